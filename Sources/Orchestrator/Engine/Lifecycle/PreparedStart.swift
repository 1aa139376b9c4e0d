/// A start checked and decided before the database is touched: the new instance, the request
/// it answers, and its first transition (applied in place when it lands in place).
struct PreparedStart: Sendable {
    var workflow: LockedWorkflow
    /// The request with the id it ends up with (derived from the input for `instance_id`).
    let request: StartRequest
    /// Tells a repeated request (same instance) from a conflicting one.
    let requestHash: String
    let machine: StateMachine
    let transition: StateMachine.Transition

    /// The row to insert: the instance as it stands, and what only a new row carries.
    var newWorkflow: NewWorkflow {
        NewWorkflow(workflow: workflow, input: request.input, idempotencyKey: request.idempotencyKey, requestHash: requestHash)
    }
}
