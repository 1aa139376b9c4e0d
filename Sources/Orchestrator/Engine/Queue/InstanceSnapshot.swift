import Foundation

/// An instance as the committed transition that leased one of its tasks to this worker left it
/// (eager dispatch). The task's completion can be decided from it in memory and written in one
/// statement, on the condition that the row is still that version (`TaskQueue.concludeAtOnce`).
struct InstanceSnapshot: Sendable {
    /// The instance, its changes written (`markSaved`).
    var workflow: LockedWorkflow
    /// The row's version: the id of the transaction that wrote it (its `xmin`).
    var rowVersion: String
    /// When the leased attempt started (its `started_at`).
    var startedAt: Date
}

/// What a completion decided from an `InstanceSnapshot` may be written on: the instance row still
/// the snapshot's version, the attempt's lease still current. Its result is stored with the task.
struct SnapshotCondition: Sendable {
    var workflowID: String
    var rowVersion: String
    var taskID: Int64
    var leaseNumber: Int
    var result: JSONValue
}
