/// A request to start an instance.
public struct StartRequest: Sendable, Hashable {
    public var type: String
    public var input: JSONValue
    /// The caller's id for the instance; generated when absent.
    public var id: String?
    /// Same key and same request → the same instance; same key and another request → conflict.
    public var idempotencyKey: String?
    public var correlationID: String?
    /// Who asked (an API key's name): the context's `$.started_by`, for the audit of what follows.
    public var startedBy: String?

    public init(
        type: String, input: JSONValue = .emptyObject, id: String? = nil, idempotencyKey: String? = nil, correlationID: String? = nil,
        startedBy: String? = nil
    ) {
        self.type = type
        self.input = input
        self.id = id
        self.idempotencyKey = idempotencyKey
        self.correlationID = correlationID
        self.startedBy = startedBy
    }
}
