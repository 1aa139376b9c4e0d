/// Matches a dotted name (an error code or an activity) exactly (`card_declined`), by prefix (`http.*`) or all (`*`).
public struct DottedPattern: Sendable, Hashable, Codable, CustomStringConvertible {
    public let pattern: String

    public init(_ pattern: String) { self.pattern = pattern }

    /// What matching names start with (`http.` for `http.*`, empty for `*`); `nil` for an exact pattern.
    public var prefix: String? {
        if pattern == "*" { return "" }
        if pattern.hasSuffix(".*") { return String(pattern.dropLast(1)) }  // keep the dot: `http.` matches `http.404`
        return nil
    }

    public func matches(_ code: String) -> Bool {
        guard let prefix else { return code == pattern }
        return code.hasPrefix(prefix)
    }

    public var description: String { pattern }
}

extension Array where Element == DottedPattern {
    public func matches(_ code: String) -> Bool { contains { $0.matches(code) } }
}
