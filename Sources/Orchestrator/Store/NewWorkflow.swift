/// An instance to insert: its state, with its pending tasks and events, and the columns only a
/// new row gets (the input, the idempotency key, the request's hash).
struct NewWorkflow: Sendable {
    var workflow: LockedWorkflow
    var input: JSONValue
    var idempotencyKey: String?
    var requestHash: String
}
