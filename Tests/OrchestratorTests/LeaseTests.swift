import Foundation
@testable import Orchestrator
import PostgresNIO
import Synchronization
import Testing

/// Leases: a stale attempt can never pass the fence, rescued tasks back off, an attempt ends at its
/// timeout even when the activity ignores cancellation, and the engine's time is the database's.
@Suite struct LeaseTests {
    static let once = """
        type: once
        start: call
        retry: {max_attempts: 1}
        states:
          call: {task: noop, input: {from: attempt}, next: done}
          done: {succeed: true, output: $.call}
        """

    @Test func aStaleOutcomeCannotPassTheFenceAfterOpsRetry() async throws {
        try await TestDatabase.withHarness(workflows: [Self.once]) { harness in
            let workflow = try await harness.start("once")
            let stale = try #require(try await harness.engine.queue.claim(owner: "w", limit: 1).first)
            harness.clock.advance(by: .seconds(40))
            #expect(try await harness.engine.queue.rescueExpiredLeases() == 1)
            let letter = try #require(try await harness.engine.operations.deadLetters(.init(workflowID: workflow.id)).first)
            _ = try await harness.engine.operations.retryDeadLetter(letter.id, by: "ops")
            // The same worker claims the fresh attempt; its first, stale attempt then reports.
            let fresh = try #require(try await harness.engine.queue.claim(owner: "w", limit: 1).first)
            #expect(fresh.attempt == stale.attempt)
            let staleMoved = try await harness.engine.transaction { try await harness.engine.queue.conclude(stale, outcome: .completed(["from": "stale"]), on: $0) }
            #expect(!staleMoved)
            try await harness.engine.transaction { try await harness.engine.queue.conclude(fresh, outcome: .completed(["from": "fresh"]), on: $0) }
            #expect(try await harness.engine.reads.workflow(workflow.id).output == ["from": "fresh"])
        }
    }

    @Test func aRescuedTaskWaitsForItsBackoff() async throws {
        let yaml = """
            type: patient
            start: call
            retry: {max_attempts: 3, initial_interval: 10s, jitter: none}
            states:
              call: {task: noop, next: done}
              done: {succeed: true}
            """
        try await TestDatabase.withHarness(workflows: [yaml]) { harness in
            _ = try await harness.start("patient")
            _ = try await harness.engine.queue.claim(owner: "gone", limit: 1)
            harness.clock.advance(by: .seconds(40))
            #expect(try await harness.engine.queue.rescueExpiredLeases() == 1)
            #expect(try await harness.engine.queue.claim(owner: "w", limit: 1).isEmpty)
            harness.clock.advance(by: .seconds(10))
            #expect(try await harness.engine.queue.claim(owner: "w", limit: 1).count == 1)
        }
    }

    @Test func anAttemptEndsAtItsTimeoutEvenWhenTheActivityIgnoresCancellation() async throws {
        let yaml = """
            type: stubborn
            start: call
            retry: {max_attempts: 1}
            states:
              call: {task: stubborn, timeout: 200ms, next: done}
              done: {succeed: true}
            """
        let finished = Flag()
        var registry = TestDatabase.registry()
        registry.register("stubborn") { _, _ in
            await waitIgnoringCancellation(.seconds(10))
            finished.set()
            return [:]
        }
        try await TestDatabase.withHarness(workflows: [yaml], registry: registry) { harness in
            let workflow = try await harness.start("stubborn")
            try await harness.drain()
            let failures = try await harness.engine.reads.history(workflow.id).filter { $0.type == .taskFailed }
            #expect(failures.map { $0.data?["error"]?["code"] } == ["timeout"])
            #expect(!finished.isSet, "the attempt was recorded before the activity returned")
        }
    }

    @Test func engineConnectionsHaveStatementAndLockTimeouts() async throws {
        try await TestDatabase.withHarness(workflows: [Self.once]) { harness in
            let statement = try await harness.query("SELECT current_setting('statement_timeout')", as: String.self)
            let lock = try await harness.query("SELECT current_setting('lock_timeout')", as: String.self)
            #expect(statement != ["0"])
            #expect(lock != ["0"])
        }
    }

    @Test func aHostWhoseClockRunsAheadDoesNotRescueLiveLeases() async throws {
        try await TestDatabase.withHarness(workflows: [Self.once], clockStart: Date()) { harness in
            _ = try await harness.start("once")
            let live = Engine(pool: harness.pool, logger: harness.logger)
            try await live.install(harness.engine.definitions)
            #expect(try await live.queue.claim(owner: "live", limit: 1).count == 1)
            // Another process on a host an hour ahead: its own clock would call the lease expired.
            let ahead = ManualWallClock(Date().addingTimeInterval(3600))
            let clock = DatabaseClock(pool: harness.pool, host: ahead, logger: harness.logger)
            try await clock.synchronize()
            let skewed = Engine(pool: harness.pool, clock: clock, logger: harness.logger)
            #expect(try await skewed.queue.rescueExpiredLeases() == 0)
            #expect(abs(skewed.clock.now().timeIntervalSinceNow) < 5)
        }
    }
}

/// A flag set once, read from anywhere.
final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

@Suite struct AttemptTimeoutTests {
    @Test func attemptsThatFinishInTimeAreNeverRecordedAsTimeouts() async throws {
        let context = ActivityContext(
            taskID: 1, workflowID: "w", workflowType: "t", state: "s", attempt: 1, idempotencyKey: "k", correlationID: nil, logger: TestDatabase.logger)
        let timedOut = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    var timedOut = 0
                    for _ in 0..<500 {
                        let outcome = await Worker.runAttempt({ input, _ in input }, input: ["n": 1], context: context, timeout: .seconds(30))
                        if outcome != .completed(["n": 1]) { timedOut += 1 }
                    }
                    return timedOut
                }
            }
            return await group.reduce(0, +)
        }
        #expect(timedOut == 0, "\(timedOut) of 10000 attempts that returned at once were recorded as timeouts")
    }
}
