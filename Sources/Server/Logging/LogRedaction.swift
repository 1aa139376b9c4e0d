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
        rule(#"\b(?:[0-9][ -]?){12,18}[0-9]\b"#, "<card>", when: { hasDigitRun($0, atLeast: 13) }),
    ]

    /// Whether `text` holds `count` digits in a row, a single space or dash allowed between two:
    /// the shape of a card number. A UUID or a request id (hex with dashes every few characters)
    /// does not, so the card pattern does not run on every log line that carries one.
    static func hasDigitRun(_ text: String, atLeast count: Int) -> Bool {
        var run = 0
        var separated = false
        for byte in text.utf8 {
            if (0x30...0x39).contains(byte) {
                run += 1
                separated = false
                if run >= count { return true }
            } else if (byte == 0x20 || byte == 0x2D) && run > 0 && !separated {
                separated = true
            } else {
                run = 0
                separated = false
            }
        }
        return false
    }

    static func redact(_ text: String) -> String {
        var text = text
        for rule in rules where rule.mayMatch(text) {
            text = rule.pattern.stringByReplacingMatches(
                in: text, range: NSRange(text.startIndex..., in: text), withTemplate: NSRegularExpression.escapedTemplate(for: rule.replacement))
        }
        return text
    }
}
