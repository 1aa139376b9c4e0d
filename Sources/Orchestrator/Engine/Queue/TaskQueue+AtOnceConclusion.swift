import Foundation
import PostgresNIO

extension TaskQueue {
    /// Ends completed attempts whose instances this worker knows as their leases found them
    /// (`InstanceSnapshot`: from the claim, or from the transition that leased them by eager
    /// dispatch), in one statement committed on its own, with no lock held in between: each
    /// transition is decided from its snapshot, and written only if the row is still that version
    /// and the lease current (`WorkflowStore.saveIfUnchanged`).
    ///
    /// Only what writes into the instance alone is concluded so: an activity's result moving the
    /// instance to a task, a sleep or its end (`Transitions.applyInPlace`), not a map item, not the
    /// end of a child. Returns the attempts concluded; the caller concludes the others with
    /// `conclude`, which locks, reads and decides again — as it does for an attempt whose instance
    /// changed meanwhile (a signal, a cancel) or whose lease was lost.
    func concludeAtOnce(
        _ attempts: [(attempt: FinishedAttempt, snapshot: InstanceSnapshot)], dispatch: EagerDispatch?, on connection: PostgresConnection
    ) async throws -> Set<AttemptID> {
        let now = clock.now()
        var generator = SystemRandomNumberGenerator()
        var decided: [(task: ClaimedTask, workflow: LockedWorkflow, condition: SnapshotCondition)] = []
        var deciding: Set<String> = []  // one transition per instance and statement
        for (attempt, snapshot) in attempts where !deciding.contains(snapshot.workflow.id) {
            let task = attempt.task
            var workflow = snapshot.workflow
            workflow.now = max(now, snapshot.startedAt)
            guard task.kind == .activity, task.itemIndex == nil, workflow.isActive, workflow.state == task.state, workflow.visit == task.visit
            else { continue }
            let machine = try await self.machine(for: workflow, on: connection)
            guard case .completed(let result) = Self.verdict(on: attempt, machine: machine, now: workflow.now, using: &generator) else { continue }
            Self.recordAttempt(task, startedAt: snapshot.startedAt, ended: .taskCompleted, ["result": result], in: &workflow)
            let transition = machine.advance(from: task.state, result: result, context: workflow.context, now: workflow.now)
            // The end of a child is delivered to its parent in the same transaction: not here.
            guard transitions.applyInPlace(transition, to: &workflow), !(workflow.endsNow && workflow.parent != nil) else { continue }
            deciding.insert(workflow.id)
            decided.append((task, workflow, SnapshotCondition(
                workflowID: workflow.id, rowVersion: snapshot.rowVersion, taskID: task.id, leaseNumber: task.leaseNumber, result: result)))
        }
        guard !decided.isEmpty else { return [] }
        let written = try await store.saveIfUnchanged(decided.map(\.workflow), conditions: decided.map(\.condition), dispatch: dispatch, on: connection)
        var concluded: Set<AttemptID> = []
        for (task, workflow, _) in decided where written.contains(workflow.id) {
            concluded.insert(task.attemptID)
            EngineMetrics.attemptEnded(activity: task.activity, outcome: "completed")
        }
        EngineMetrics.attemptsConcluded(concluded.count, path: "snapshot")
        return concluded
    }
}
