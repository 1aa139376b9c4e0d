/// What a completion decided from an `InstanceSnapshot` may be written on: the instance row still
/// the snapshot's version, the attempt's lease still current. Its result is stored with the task.
struct SnapshotCondition: Sendable {
    var workflowID: String
    var rowVersion: String
    var taskID: Int64
    var leaseNumber: Int
    var result: JSONValue
}
