import Foundation
import Orchestrator
import PostgresNIO
import Testing

/// Waiting for a workflow's result without polling: the database announces status changes and
/// one listener per process wakes the callers waiting for them.
@Suite struct WorkflowWatcherTests {
    /// A watcher that never re-reads on its own: only an announcement (or a reconnection) wakes it.
    static func withWatcher(_ harness: TestHarness, _ body: @escaping @Sendable (WorkflowWatcher) async throws -> Void) async throws {
        let watcher = WorkflowWatcher(engine: harness.engine, database: harness.database, recheckInterval: .seconds(3600), logger: harness.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await watcher.run() }
            defer { group.cancelAll() }
            try await body(watcher)
        }
    }

    @Test func aWaiterWakesWhenTheDatabaseAnnouncesTheWorkflowCompleted() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            try await Self.withWatcher(harness) { watcher in
                let started = try await harness.start("chain")
                let began = ContinuousClock.now
                async let settled = watcher.settled(started.id, within: .seconds(120))
                // Let the waiter read the running workflow and the listener connect, then run it.
                try await Task.sleep(for: .milliseconds(500))
                _ = try await harness.drain()
                let record = try await settled
                #expect(record.status == .completed)
                #expect(record.output != nil)
                // Not a speed check: without the announcement it would answer only when the
                // 120 s wait ends.
                #expect(ContinuousClock.now - began < .seconds(60), "woken by the announcement, not by the end of the wait")
            }
        }
    }

    @Test func aWorkflowWaitingForASignalIsSettledAndARunningOneIsAnsweredAsItIsWhenTheWaitEnds() async throws {
        let approval = """
            type: approval
            start: wait
            states:
              wait: {wait_for: approved, next: done}
              done: {succeed: true}
            """
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain, approval]) { harness in
            try await Self.withWatcher(harness) { watcher in
                let waiting = try await harness.start("approval")
                _ = try await harness.drain()
                let record = try await watcher.settled(waiting.id, within: .seconds(120))
                #expect(record.status == .waiting && record.waiting?.kind == .signal && record.isSettled)

                let running = try await harness.start("chain")
                let unchanged = try await watcher.settled(running.id, within: .milliseconds(300))
                #expect(unchanged.status == .running && !unchanged.isSettled)
                await #expect(throws: OrchestratorError.self) { try await watcher.settled("no-such-workflow", within: .seconds(1)) }
            }
        }
    }

    /// The database goes away while a caller waits: the waiter answers that it is unavailable
    /// soon after its wait ends, instead of waiting for the pool to give up connecting (which
    /// took 68 s here).
    @Test func aWaiterWhoseDatabaseGoesAwayAnswersUnavailableWhenItsWaitEnds() async throws {
        try await PrivateCluster.withCluster { cluster in
            try await TestDatabase.withHarness(workflows: [ExecutionTests.chain], server: cluster.server) { harness in
                try await Self.withWatcher(harness) { watcher in
                    let started = try await harness.start("chain")
                    try await cluster.stop()
                    let began = ContinuousClock.now
                    await #expect {
                        _ = try await watcher.settled(started.id, within: .seconds(2))
                    } throws: { error in
                        (error as? OrchestratorError)?.code == .databaseUnavailable
                    }
                    // Not a speed check: the bound is the wait and its grace, far below the pool's minute.
                    #expect(ContinuousClock.now - began < .seconds(30), "the waiter was held past its wait")
                }
            }
        }
    }

    /// A start whose first state is the end inserts the instance ended, in one statement: the
    /// database announces it as it announces an instance that ended by an update.
    @Test func aWorkflowThatEndsInItsFirstTransitionIsAnnouncedAndRecorded() async throws {
        let instant = """
            type: instant
            start: done
            states:
              done: {succeed: true, output: {answer: 42}}
            """
        try await TestDatabase.withHarness(workflows: [instant]) { harness in
            try await harness.client.withConnection { connection in
                try await connection.listen(on: WorkflowWatcher.channel) { notifications in
                    try await connection.query("SELECT 1", logger: harness.logger)  // the LISTEN is in place
                    let started = try await harness.start("instant")
                    #expect(started.status == .completed)
                    // Bounded, so a missing announcement fails the test instead of hanging it.
                    let announced = try await withThrowingTaskGroup(of: String?.self) { group in
                        group.addTask {
                            for try await notification in notifications { return notification.payload }
                            return nil
                        }
                        group.addTask {
                            try await Task.sleep(for: .seconds(30))
                            return nil
                        }
                        defer { group.cancelAll() }
                        return try await group.next() ?? nil
                    }
                    #expect(announced == started.id)

                    let record = try await harness.engine.reads.workflow(started.id)
                    #expect(record.status == .completed && record.output == ["answer": 42] && record.completedAt != nil)
                    let history = try await harness.engine.reads.history(started.id).map(\.type)
                    #expect(history == [.workflowStarted, .stateEntered, .workflowCompleted])
                }
            }
        }
    }
}
