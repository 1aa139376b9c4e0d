/// A JSON shape whose string leaves starting with `$` are paths resolved against the workflow context.
///
/// `{items: $.input.items, mode: fast}` becomes `{items: [...], mode: "fast"}`. A missing path yields `null`.
public indirect enum ValueTemplate: Sendable, Hashable, Codable {
    case path(JSONPath)
    case literal(JSONValue)
    case array([ValueTemplate])
    case object([String: ValueTemplate])

    public func evaluate(in context: JSONValue) -> JSONValue {
        switch self {
        case .path(let path): path.read(context) ?? .null
        case .literal(let value): value
        case .array(let items): .array(items.map { $0.evaluate(in: context) })
        case .object(let fields): .object(fields.mapValues { $0.evaluate(in: context) })
        }
    }

    /// Every path inside the template, for validation.
    public var paths: [JSONPath] {
        switch self {
        case .path(let path): [path]
        case .literal: []
        case .array(let items): items.flatMap(\.paths)
        case .object(let fields): fields.values.flatMap(\.paths)
        }
    }
}
