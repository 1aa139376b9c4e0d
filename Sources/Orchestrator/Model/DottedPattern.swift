/// Matches a dotted name (an error code or an activity) exactly (`card_declined`), by prefix (`http.*`) or all (`*`).
public struct DottedPattern: Sendable, Hashable, Codable, CustomStringConvertible {
    public let pattern: String

    public init(_ pattern: String) { self.pattern = pattern }

    public func matches(_ code: String) -> Bool {
        if pattern == "*" { return true }
        if pattern.hasSuffix(".*") {
            let prefix = pattern.dropLast(1)  // keep the dot: `http.` matches `http.404`
            return code.hasPrefix(prefix)
        }
        return code == pattern
    }

    public var description: String { pattern }
}

extension Array where Element == DottedPattern {
    public func matches(_ code: String) -> Bool { contains { $0.matches(code) } }
}
