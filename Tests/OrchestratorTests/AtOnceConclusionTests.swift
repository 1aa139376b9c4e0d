import Foundation
@testable import Orchestrator
import PostgresNIO
import Testing

/// A step is concluded from the instance as its lease found it (the claim, or the predecessor's
/// completion that leased it by eager dispatch), in one statement, only while that instance row
/// and the step's lease are unchanged; otherwise nothing is written and the locking path concludes it.
@Suite struct AtOnceConclusionTests {
    /// Runs step `one` of a chain (or of another `type` whose steps are `one`, `two`…) and leases
    /// step `two` to worker "w": returns step two's task and the instance as step one's completion left it.
    static func leaseStepTwo(_ harness: TestHarness, type: String = "chain") async throws -> (task: ClaimedTask, snapshot: InstanceSnapshot, workflowID: String) {
        let started = try await harness.start(type, input: ["i": 7])
        let one = try #require(try await harness.engine.queue.claim(owner: "w", limit: 1).first)
        let dispatch = EagerDispatch(owner: "w", activities: ["noop"], slots: 1, grace: .seconds(30))
        try await harness.engine.transaction { connection in
            try await harness.engine.queue.conclude([FinishedAttempt(task: one, outcome: .completed(one.input))], dispatch: dispatch, on: connection)
        }
        let (two, snapshot) = try #require(dispatch.leased.first)
        #expect(two.state == "two" && snapshot.workflow.state == "two")
        return (two, snapshot, started.id)
    }

    static func concludeAtOnce(_ task: ClaimedTask, _ snapshot: InstanceSnapshot, _ harness: TestHarness) async throws -> Bool {
        let concluded = try await harness.client.withConnection { connection in
            try await harness.engine.queue.concludeAtOnce(
                [(FinishedAttempt(task: task, outcome: .completed(task.input)), snapshot)], dispatch: nil, on: connection)
        }
        return concluded.contains(task.attemptID)
    }

    static func events(_ id: String, _ harness: TestHarness) async throws -> [EventRecord.Kind] {
        try await harness.engine.reads.history(id).map(\.type)
    }

    @Test func aStepConcludedFromItsSnapshotWritesWhatTheLockingPathWrites() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            let (two, snapshot, id) = try await Self.leaseStepTwo(harness)
            #expect(try await Self.concludeAtOnce(two, snapshot, harness))

            let record = try await harness.engine.reads.workflow(id)
            #expect(record.status == .running && record.state == "three")
            #expect(record.context["two"] == ["i": 7, "step": 2])
            let history = try await Self.events(id, harness)
            #expect(Array(history.suffix(4)) == [.taskStarted, .taskCompleted, .stateEntered, .taskScheduled])
            let seqs = try await harness.query("SELECT seq FROM orchestrator.events WHERE workflow_id = \(id) ORDER BY seq", as: Int32.self)
            #expect(seqs == Array(1...Int32(seqs.count)), "one history, numbered without a gap")
            let task = try await harness.query(
                "SELECT status || ' ' || result::text FROM orchestrator.tasks WHERE id = \(two.id)", as: String.self)
            #expect(task == [#"completed {"i": 7, "step": 2}"#])

            // The rest runs on as usual.
            _ = try await harness.drain()
            #expect(try await harness.engine.reads.workflow(id).status == .completed)
        }
    }

    @Test func aClaimedStepIsConcludedFromTheInstanceItsClaimSaw() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            let started = try await harness.start("chain", input: ["i": 5])
            let (one, snapshot) = try #require(try await harness.engine.queue.claimWithSnapshots(owner: "w", limit: 1).first)
            #expect(snapshot.workflow.id == started.id && snapshot.workflow.state == "one" && snapshot.workflow.context["input"] == ["i": 5])
            #expect(try await Self.concludeAtOnce(one, snapshot, harness))
            let record = try await harness.engine.reads.workflow(started.id)
            #expect(record.state == "two" && record.context["one"] == ["i": 5, "step": 1])
            let seqs = try await harness.query("SELECT seq FROM orchestrator.events WHERE workflow_id = \(started.id) ORDER BY seq", as: Int32.self)
            #expect(seqs == Array(1...Int32(seqs.count)))
        }
    }

    @Test func aRowChangedSinceTheSnapshotIsLeftAloneAndTheLockingPathConcludesTheStep() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            let (two, snapshot, id) = try await Self.leaseStepTwo(harness)
            let before = try await Self.events(id, harness)
            // Any writer of the row (a signal, an operator) makes it another version; this one
            // changes nothing else, so only the version can tell.
            _ = try await harness.query("UPDATE orchestrator.workflows SET updated_at = updated_at WHERE id = \(id) RETURNING 1", as: Int32.self)

            #expect(try await !Self.concludeAtOnce(two, snapshot, harness))
            #expect(try await Self.events(id, harness) == before, "nothing written")
            #expect(try await harness.query("SELECT status FROM orchestrator.tasks WHERE id = \(two.id)", as: String.self) == ["running"])

            try await harness.engine.transaction { connection in
                try await harness.engine.queue.conclude([FinishedAttempt(task: two, outcome: .completed(two.input))], on: connection)
            }
            #expect(try await harness.engine.reads.workflow(id).state == "three")
        }
    }

    /// Two steps named as `leaseStepTwo` expects, under a type of the test's own: metrics are
    /// process-wide, so a test that reads one counts only its own type.
    static func pair(_ type: String) -> String {
        """
        type: \(type)
        start: one
        states:
          one: {task: noop, next: two}
          two: {task: noop, next: done}
          done: {succeed: true, output: $.two}
        """
    }

    /// An end decided from a snapshot but not written, then decided again on the locking path,
    /// is one end (`orchestrator_workflows_ended_total` counted both before).
    @Test func anEndDecidedTwiceIsCountedOnceWhenWritten() async throws {
        let ends = RecordedMetrics.counter("orchestrator_workflows_ended_total", [("type", "counted_pair"), ("status", "completed")])
        try await TestDatabase.withHarness(workflows: [Self.pair("counted_pair")]) { harness in
            let (two, snapshot, id) = try await Self.leaseStepTwo(harness, type: "counted_pair")
            _ = try await harness.query("UPDATE orchestrator.workflows SET updated_at = updated_at WHERE id = \(id) RETURNING 1", as: Int32.self)

            #expect(try await !Self.concludeAtOnce(two, snapshot, harness))
            #expect(ends() == 0, "not written, not ended")
            try await harness.engine.transaction { connection in
                try await harness.engine.queue.conclude([FinishedAttempt(task: two, outcome: .completed(two.input))], on: connection)
            }
            #expect(try await harness.engine.reads.workflow(id).status == .completed)
            #expect(ends() == 1)
        }
    }

    /// A start or an end written by a transaction that then rolls back did not happen: each is
    /// counted when its transaction commits, not when its statement runs.
    @Test func aStartOrAnEndWrittenInATransactionThatRollsBackIsNotCounted() async throws {
        struct RolledBack: Error {}
        let starts = RecordedMetrics.counter("orchestrator_workflows_started_total", [("type", "rolled_back")])
        let ends = RecordedMetrics.counter("orchestrator_workflows_ended_total", [("type", "rolled_back"), ("status", "completed")])
        try await TestDatabase.withHarness(workflows: [Self.pair("rolled_back")]) { harness in
            await #expect(throws: RolledBack.self) {
                try await harness.engine.transaction { connection in
                    _ = try await harness.engine.lifecycle.start(StartRequest(type: "rolled_back", input: [:]), on: connection)
                    throw RolledBack()
                }
            }
            #expect(starts() == 0, "rolled back, not started")
            let (two, _, id) = try await Self.leaseStepTwo(harness, type: "rolled_back")
            #expect(starts() == 1)
            let conclusion = [FinishedAttempt(task: two, outcome: .completed(two.input))]
            await #expect(throws: RolledBack.self) {
                try await harness.engine.transaction { connection in
                    _ = try await harness.engine.queue.conclude(conclusion, on: connection)
                    throw RolledBack()
                }
            }
            #expect(try await harness.engine.reads.workflow(id).status == .running)
            #expect(ends() == 0, "rolled back, not ended")
            try await harness.engine.transaction { connection in
                _ = try await harness.engine.queue.conclude(conclusion, on: connection)
            }
            #expect(try await harness.engine.reads.workflow(id).status == .completed)
            #expect(ends() == 1)
        }
    }

    @Test func aStepWhoseLeaseWasLostIsNotConcludedFromItsSnapshot() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            let (two, snapshot, id) = try await Self.leaseStepTwo(harness)
            let before = try await Self.events(id, harness)
            // The rescuer took the lease back (the instance row is untouched).
            _ = try await harness.query(
                "UPDATE orchestrator.tasks SET status = 'ready', lease_owner = NULL, lease_expires_at = NULL WHERE id = \(two.id) RETURNING 1",
                as: Int32.self)

            #expect(try await !Self.concludeAtOnce(two, snapshot, harness))
            #expect(try await Self.events(id, harness) == before, "nothing written")
            #expect(try await harness.query("SELECT status FROM orchestrator.tasks WHERE id = \(two.id)", as: String.self) == ["ready"])
            #expect(try await harness.engine.reads.workflow(id).state == "two")
        }
    }

    @Test func aWorkerConcludesEveryStepOfAChainFromItsSnapshotWithOneHistory() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            let worker = harness.worker(concurrency: 4)
            let started = try await harness.start("chain", input: ["i": 3])
            let ended = try await EagerDispatchTests.run(worker, until: started.id, harness)
            #expect(ended.status == .completed && ended.output == ["i": 3, "step": 3])
            #expect(worker.dispatched == 2)
            // The first step from its claim's snapshot, the others from their leasing transitions'.
            #expect(worker.concludedFromSnapshots == 3)
            // Each step: scheduled, started, completed; one history without a gap.
            let history = try await Self.events(started.id, harness)
            #expect(history.filter { $0 == .taskCompleted }.count == 3 && history.last == .workflowCompleted)
            let seqs = try await harness.query("SELECT seq FROM orchestrator.events WHERE workflow_id = \(started.id) ORDER BY seq", as: Int32.self)
            #expect(seqs == Array(1...Int32(seqs.count)))
            let tasks = try await harness.query(
                "SELECT status FROM orchestrator.tasks WHERE workflow_id = \(started.id) AND attempt = 1 AND result IS NOT NULL", as: String.self)
            #expect(tasks == ["completed", "completed", "completed"])
        }
    }
}
