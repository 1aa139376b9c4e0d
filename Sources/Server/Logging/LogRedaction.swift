import Foundation

/// Masks what must never reach a log: e-mail addresses, phone numbers, card numbers, API keys
/// and secrets. Applied by `OrchestratorLogHandler` to every message and metadata value, so no
/// call site can leak one by mistake. Each rule runs only when a cheap test says it may match.
enum LogRedaction {
    private struct Rule: @unchecked Sendable {
        let mayMatch: @Sendable (String) -> Bool
        let pattern: NSRegularExpression
        let replacement: String
    }

    private static func rule(_ pattern: String, _ replacement: String, when mayMatch: @escaping @Sendable (String) -> Bool) -> Rule {
        // The patterns are constants: a bad one is a programming error caught by the tests.
        Rule(mayMatch: mayMatch, pattern: try! NSRegularExpression(pattern: pattern), replacement: replacement)
    }

    private static let rules: [Rule] = [
        // Secrets first: a key may hold digits a card rule would take apart.
        rule(#"(?i)\bbearer\s+[^\s,;"']+"#, "Bearer <key>", when: { $0.range(of: "bearer", options: .caseInsensitive) != nil }),
        rule(#"\b(?:client|ops|monitor)_[a-z0-9]{16,}\b"#, "<key>", when: { $0.contains("_") }),
        rule(#"\b(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9]+\b|\bwhsec_[A-Za-z0-9+/=]+"#, "<key>", when: { $0.contains("_") }),
        rule(#"\bSG\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"#, "<key>", when: { $0.contains("SG.") }),
        rule(#"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"#, "<email>", when: { $0.contains("@") }),
        rule(#"\+[0-9][0-9 ()-]{6,}[0-9]"#, "<phone>", when: { $0.contains("+") }),
        rule(#"\b(?:[0-9][ -]?){12,18}[0-9]\b"#, "<card>", when: { text in text.utf8.lazy.filter { (0x30...0x39).contains($0) }.count >= 13 }),
    ]

    static func redact(_ text: String) -> String {
        var text = text
        for rule in rules where rule.mayMatch(text) {
            text = rule.pattern.stringByReplacingMatches(
                in: text, range: NSRange(text.startIndex..., in: text), withTemplate: NSRegularExpression.escapedTemplate(for: rule.replacement))
        }
        return text
    }
}
