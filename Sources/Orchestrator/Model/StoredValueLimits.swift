/// Bounds on what the engine stores, so that whatever it writes it can read back: the JSON reader
/// refuses documents nested deeper than `JSONTextParser.maxDepth` (512) levels.
public enum StoredValueLimits {
    /// Levels of nesting of a workflow's input and of a signal's payload.
    public static let inputDepth = 64
    /// Levels of nesting of a workflow's context after a transition: results that would nest it
    /// deeper fail the workflow (`workflow.context_too_deep`) instead of being stored.
    public static let contextDepth = 256
    /// UTF-8 bytes of an id, an idempotency key or a signal name: what a B-tree index row holds
    /// with room to spare, counted in bytes because PostgreSQL counts bytes.
    public static let identifierBytes = 200
}

extension JSONValue {
    /// Levels of nesting: 0 for a scalar, 1 for `[]` or `{"a": 1}`.
    public var nestingDepth: Int {
        switch self {
        case .array(let items): 1 + (items.lazy.map(\.nestingDepth).max() ?? 0)
        case .object(let fields): 1 + (fields.values.lazy.map(\.nestingDepth).max() ?? 0)
        default: 0
        }
    }
}
