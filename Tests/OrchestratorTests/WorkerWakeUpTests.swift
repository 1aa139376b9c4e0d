import Foundation
import Orchestrator
import PostgresNIO
import Testing

/// When an idle worker wakes to claim a task another process announced.
@Suite struct WorkerWakeUpTests {
    /// Every process reads the database's time through its own estimate, each a little off. A task
    /// another process enqueued "due now" by its estimate may be due a moment later by this
    /// worker's: the worker claims again when it is, not at its next poll.
    @Test func aTaskAnnouncedDueByAClockAheadOfTheWorkersRunsWhenItBecomesDueNotAtThePoll() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            struct ShiftedClock: WallClock {
                var by: TimeInterval
                func now() -> Date { Date().addingTimeInterval(by) }
            }
            let starter = Engine(pool: harness.pool, clock: ShiftedClock(by: 0.3), logger: harness.logger)
            let workerEngine = Engine(pool: harness.pool, clock: ShiftedClock(by: 0), logger: harness.logger)
            try await starter.install(harness.engine.definitions)
            try await workerEngine.install(harness.engine.definitions)
            var configuration = Worker.Configuration(concurrency: 4)
            configuration.pollInterval = .seconds(60)
            let worker = Worker(engine: workerEngine, registry: harness.registry, database: harness.database, configuration: configuration, logger: harness.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await worker.run() }
                defer { group.cancelAll() }
                // The worker has connected and found nothing: from now on it waits.
                try await Task.sleep(for: .seconds(1))
                let began = ContinuousClock.now
                let started = try await starter.lifecycle.start(StartRequest(type: "chain")).workflow
                var record = try await harness.engine.reads.workflow(started.id)
                while !record.status.isTerminal, ContinuousClock.now - began < .seconds(20) {
                    try await Task.sleep(for: .milliseconds(20))
                    record = try await harness.engine.reads.workflow(started.id)
                }
                #expect(record.status == .completed, "still \(record.status) 20 s after the start, with the poll 60 s away")
            }
        }
    }
}
