import Foundation

/// An instance as the lease of one of its tasks found it: read by the claim, or left by the
/// committed transition that leased the task to this worker (eager dispatch). The task's
/// completion can be decided from it in memory and written in one statement, on the condition
/// that the row is still that version (`TaskQueue.concludeAtOnce`).
struct InstanceSnapshot: Sendable {
    /// The instance, its changes written (`markSaved`).
    var workflow: LockedWorkflow
    /// The row's version: the id of the transaction that last wrote it (its `xmin`).
    var rowVersion: String
    /// When the leased attempt started (its `started_at`).
    var startedAt: Date
}
