import Foundation
@testable import Orchestrator
import PostgresNIO
import Testing

/// Eager dispatch: the task a completion enqueues is leased to the completing worker in the same
/// transaction and run at once when the worker has a free slot and nothing queued, unless an
/// activity limit governs it.
@Suite struct EagerDispatchTests {
    /// Runs `worker` until `id` has ended (at most 60 s).
    static func run(_ worker: Worker, until id: String, _ harness: TestHarness) async throws -> WorkflowRecord {
        try await withThrowingTaskGroup(of: WorkflowRecord?.self) { group in
            group.addTask {
                try await worker.run()
                return nil
            }
            group.addTask {
                for _ in 0..<3000 {
                    let record = try await harness.engine.reads.workflow(id)
                    if record.status.isTerminal { return record }
                    try await Task.sleep(for: .milliseconds(20))
                }
                return try await harness.engine.reads.workflow(id)
            }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let record = next { return record }
            }
            throw CancellationError()
        }
    }

    @Test func aCompletionRunsTheNextStepAtOnceOnAWorkerWithRoomAndNothingQueued() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            let worker = harness.worker(concurrency: 4)
            let started = try await harness.start("chain")
            let ended = try await Self.run(worker, until: started.id, harness)
            #expect(ended.status == .completed)
            // The first step was claimed; each next one was leased by its predecessor's completion.
            #expect(try await harness.stateEntries(started.id) == ["one", "two", "three", "done"])
            #expect(worker.dispatched == 2)
            let attempts = try await harness.query("SELECT attempt FROM orchestrator.tasks WHERE workflow_id = \(started.id)", as: Int32.self)
            #expect(attempts.allSatisfy { $0 == 1 }, "each task ran once: \(attempts)")
        }
    }

    @Test func aTaskUnderAnActivityLimitWaitsForAClaim() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain], configuration: try ActivityLimitTests.limits("noop=5")) { harness in
            let worker = harness.worker(concurrency: 4)
            let started = try await harness.start("chain")
            let ended = try await Self.run(worker, until: started.id, harness)
            #expect(ended.status == .completed)
            #expect(worker.dispatched == 0)
        }
    }
}
