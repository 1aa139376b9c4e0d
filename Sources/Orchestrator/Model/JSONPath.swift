/// The JSON-path subset used by workflow files: `$`, `$.field`, `$.list[2].field`.
///
/// Reads return `nil` when a segment is missing; writes create intermediate objects.
public struct JSONPath: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Segment: Sendable, Hashable, Codable {
        case key(String)
        case index(Int)
    }

    public let segments: [Segment]

    public init(segments: [Segment]) { self.segments = segments }

    /// Parses a path; throws a message describing the first bad character.
    public init(parsing text: String) throws(JSONPathError) {
        guard text.first == "$" else { throw JSONPathError("path must start with '$': \(text)") }
        var segments: [Segment] = []
        var rest = text.dropFirst()
        while let first = rest.first {
            if first == "." {
                rest = rest.dropFirst()
                let name = rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
                guard !name.isEmpty else { throw JSONPathError("empty or invalid field name in path \(text)") }
                segments.append(.key(String(name)))
                rest = rest.dropFirst(name.count)
            } else if first == "[" {
                rest = rest.dropFirst()
                let digits = rest.prefix { $0.isNumber }
                guard !digits.isEmpty, let index = Int(digits), rest.dropFirst(digits.count).first == "]" else {
                    throw JSONPathError("invalid index in path \(text)")
                }
                segments.append(.index(index))
                rest = rest.dropFirst(digits.count + 1)
            } else {
                throw JSONPathError("unexpected '\(first)' in path \(text)")
            }
        }
        self.segments = segments
    }

    public var description: String {
        "$" + segments.map { segment in
            switch segment {
            case .key(let name): ".\(name)"
            case .index(let index): "[\(index)]"
            }
        }.joined()
    }

    public func read(_ value: JSONValue) -> JSONValue? {
        var current = value
        for segment in segments {
            switch (segment, current) {
            case (.key(let name), .object(let fields)):
                guard let next = fields[name] else { return nil }
                current = next
            case (.index(let index), .array(let items)):
                guard items.indices.contains(index) else { return nil }
                current = items[index]
            default:
                return nil
            }
        }
        return current
    }

    /// Writes `newValue` at this path; the root path replaces the whole document.
    public func write(_ newValue: JSONValue, into document: inout JSONValue) {
        Self.write(newValue, segments: segments[...], into: &document)
    }

    private static func write(_ newValue: JSONValue, segments: ArraySlice<Segment>, into document: inout JSONValue) {
        guard let first = segments.first else {
            document = newValue
            return
        }
        switch first {
        case .key(let name):
            var fields = document.objectValue ?? [:]
            var child = fields[name] ?? .null
            write(newValue, segments: segments.dropFirst(), into: &child)
            fields[name] = child
            document = .object(fields)
        case .index(let index):
            var items = document.arrayValue ?? []
            while items.count <= index { items.append(.null) }
            write(newValue, segments: segments.dropFirst(), into: &items[index])
            document = .array(items)
        }
    }
}

public struct JSONPathError: Error, Sendable, Hashable {
    public let message: String
    public init(_ message: String) { self.message = message }
}
