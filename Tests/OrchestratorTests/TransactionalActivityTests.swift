import Foundation
@testable import Orchestrator
import PostgresNIO
import ServiceLifecycle
import Synchronization
import Testing

/// A transactional activity's writes commit exactly once, with the transition that records them,
/// whatever happened to the lease in between; it has a timeout; a slow one stalls nobody else.
@Suite struct TransactionalActivityTests {
    static let effectful = """
        type: effectful
        start: write
        retry: {max_attempts: 3, initial_interval: 1s, jitter: none}
        states:
          write: {task: effect.record, input: $.input, timeout: 30s, next: done}
          done: {succeed: true}
        """

    static func registry(gate: Gate = Gate()) -> ActivityRegistry {
        var registry = TestDatabase.registry()
        registry.register(RecordEffect(gate: gate))
        return registry
    }

    static func effects(_ harness: TestHarness) async throws -> Int64 {
        try await harness.query("SELECT count(*) FROM effects", as: Int64.self).first ?? -1
    }

    @Test func aRescuedAttemptThatFinishesLateWritesNothing() async throws {
        try await TestDatabase.withHarness(workflows: [Self.effectful], registry: Self.registry()) { harness in
            try await RecordEffect.createTable(harness)
            let workflow = try await harness.start("effectful")
            let stale = try #require(try await harness.engine.queue.claim(owner: "slow", limit: 1).first)
            harness.clock.advance(by: .seconds(40))
            #expect(try await harness.engine.queue.rescueExpiredLeases() == 1)
            harness.clock.advance(by: .seconds(10))
            try await harness.drain()
            #expect(try await harness.engine.reads.workflow(workflow.id).status == .completed)
            // The first worker wakes up and runs its attempt: its lease is gone, so nothing may commit.
            await harness.worker(id: "slow").runClaimed([stale])
            #expect(try await Self.effects(harness) == 1)
        }
    }

    @Test func anAttemptWhoseWorkflowWasCancelledMeanwhileWritesNothing() async throws {
        try await TestDatabase.withHarness(workflows: [Self.effectful], registry: Self.registry()) { harness in
            try await RecordEffect.createTable(harness)
            let workflow = try await harness.start("effectful")
            let claimed = try await harness.engine.queue.claim(owner: "w", limit: 1)
            _ = try await harness.engine.lifecycle.cancel(workflowID: workflow.id)
            await harness.worker(id: "w").runClaimed(claimed)
            #expect(try await Self.effects(harness) == 0)
            #expect(try await harness.engine.reads.workflow(workflow.id).status == .cancelled)
        }
    }

    @Test func committingTheSameAttemptAgainAfterALostReplyWritesNothing() async throws {
        try await TestDatabase.withHarness(workflows: [Self.effectful], registry: Self.registry()) { harness in
            try await RecordEffect.createTable(harness)
            let workflow = try await harness.start("effectful")
            let claimed = try await harness.engine.queue.claim(owner: "w", limit: 1)
            await harness.worker(id: "w").runClaimed(claimed)
            // The COMMIT went through but its reply was lost: the completion is tried again.
            await harness.worker(id: "w").runClaimed(claimed)
            #expect(try await Self.effects(harness) == 1)
            #expect(try await harness.engine.reads.workflow(workflow.id).status == .completed)
        }
    }

    /// Overrunning in a statement (`sleep_ms`: its statement timeout cuts it) or in the activity's
    /// own code (`idle_ms`: no statement timeout reaches it, and it gives up only when cancelled
    /// at the cutoff, mid-transaction): either way the attempt fails as timed out.
    @Test(arguments: ["sleep_ms: 3000", "idle_ms: 30000"])
    func anAttemptPastItsTimeoutFailsAsTimedOutAndItsWritesRollBack(overrun: String) async throws {
        let yaml = """
            type: sluggish
            start: write
            retry: {max_attempts: 1}
            states:
              write: {task: effect.record, input: {\(overrun)}, timeout: 300ms, next: done}
              done: {succeed: true}
            """
        try await TestDatabase.withHarness(workflows: [yaml], registry: Self.registry()) { harness in
            try await RecordEffect.createTable(harness)
            let workflow = try await harness.start("sluggish")
            try await harness.drain()
            let failures = try await harness.engine.reads.history(workflow.id).filter { $0.type == .taskFailed }
            #expect(failures.map { $0.data?["error"]?["code"] } == ["timeout"])
            #expect(try await harness.engine.reads.workflow(workflow.id).status == .deadLettered)
            #expect(try await Self.effects(harness) == 0)
        }
    }

    @Test func onlyTheActivityIsHeldToItsTimeoutNotTheWaitForItsWorkflowsLock() async throws {
        let yaml = """
            type: patient_write
            start: write
            retry: {max_attempts: 1}
            states:
              write: {task: effect.record, input: {sleep_ms: 0}, timeout: 3s, next: done}
              done: {succeed: true}
            """
        try await TestDatabase.withHarness(workflows: [yaml], registry: Self.registry()) { harness in
            try await RecordEffect.createTable(harness)
            let workflow = try await harness.start("patient_write")
            let claimed = try await harness.engine.queue.claim(owner: "w", limit: 1)
            // Another transaction holds the instance for 6 s: past the activity's timeout plus its
            // second of grace, yet the activity itself takes no time (3 s leave a loaded machine room).
            let blocker = try await harness.holdRowLock(ofWorkflow: workflow.id)
            async let released: Void = {
                try await Task.sleep(for: .seconds(6))
                try await blocker.query("COMMIT", logger: harness.logger)
            }()
            await harness.worker(id: "w").runClaimed(claimed)
            try await released
            try await blocker.close()
            #expect(try await harness.engine.reads.workflow(workflow.id).status == .completed)
            #expect(try await Self.effects(harness) == 1)
        }
    }

    @Test func anAttemptThatIgnoresItsTimeoutIsAbandonedItsSessionEndedAndItsWritesRolledBack() async throws {
        let yaml = """
            type: stubborn_write
            start: write
            retry: {max_attempts: 1}
            states:
              write: {task: effect.record, input: {stubborn_ms: 30000}, timeout: 300ms, next: done}
              done: {succeed: true}
            """
        let gate = Gate()
        try await TestDatabase.withHarness(workflows: [yaml], registry: Self.registry(gate: gate)) { harness in
            try await RecordEffect.createTable(harness)
            let workflow = try await harness.start("stubborn_write")
            try await harness.drain()
            #expect(!gate.isOpen, "the attempt was recorded while the activity still ran")
            let failures = try await harness.engine.reads.history(workflow.id).filter { $0.type == .taskFailed }
            #expect(failures.map { $0.data?["error"]?["code"] } == ["timeout"])
            #expect(try await Self.effects(harness) == 0)
        }
    }

    /// An overrunning attempt's session is ended from another one; by then the attempt may have
    /// finished after all and its connection gone back to the pool, to run another attempt (or
    /// the very statement that would end it). It is spared then: only the attempt's own
    /// transaction is ended.
    @Test func endingAnAttemptsSessionEndsOnlyTheAttemptsOwnTransaction() async throws {
        try await TestDatabase.withHarness(workflows: []) { harness in
            let store = harness.engine.store
            let pooled = try await PostgresConnection.connect(configuration: harness.database.connectionConfiguration(), id: 11, logger: harness.logger)
            // Bounded: on a session ended under it, PostgresNIO's next query may never answer.
            func answers() async -> Bool {
                let probe = Task { (try? await pooled.query("SELECT 1", logger: harness.logger).collect().count) == 1 }
                return await Deadline.value(of: probe, within: .seconds(10)) == true
            }
            try await pooled.query("BEGIN", logger: harness.logger)
            let finished = try await store.currentTransaction(on: pooled)
            try await pooled.query("COMMIT", logger: harness.logger)
            try await pooled.query("BEGIN", logger: harness.logger)
            try await harness.client.withConnection { try await store.terminateSession(running: finished, on: $0) }
            #expect(await answers(), "a session whose attempt had ended was ended")

            let running = try await store.currentTransaction(on: pooled)
            try await harness.client.withConnection { try await store.terminateSession(running: running, on: $0) }
            #expect(await !answers(), "the session of an open attempt was not ended")
            try? await pooled.close()
        }
    }

    @Test func aSlowTransactionalActivityDoesNotHoldBackOtherCompletions() async throws {
        let gate = Gate()
        let registry = Self.registry(gate: gate)
        try await TestDatabase.withHarness(workflows: [Self.effectful, ExecutionTests.chain], registry: registry, clockStart: Date()) { harness in
            try await RecordEffect.createTable(harness)
            let engine = Engine(pool: harness.pool, logger: harness.logger)
            try await engine.install(harness.engine.definitions)
            let worker = Worker(engine: engine, registry: registry, database: harness.database, configuration: .init(concurrency: 8), logger: harness.logger)
            let group = ServiceGroup(services: [worker], logger: harness.logger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                let slow = try await engine.lifecycle.start(StartRequest(type: "effectful", input: ["block": true])).workflow
                try await gate.waitUntilEntered()
                var ids: [String] = []
                for i in 0..<5 { ids.append(try await engine.lifecycle.start(StartRequest(type: "chain", input: ["i": .number(Double(i))])).workflow.id) }
                let deadline = ContinuousClock.now + .seconds(20)
                var done: Int64 = 0
                while done < 5, ContinuousClock.now < deadline {
                    done = try await harness.query("SELECT count(*) FROM orchestrator.workflows WHERE type = 'chain' AND status = 'completed'", as: Int64.self).first ?? 0
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(done == 5, "chains completed while the transactional activity was still running")
                gate.open()
                while try await engine.reads.workflow(slow.id).status != .completed, ContinuousClock.now < deadline + .seconds(10) {
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(try await engine.reads.workflow(slow.id).status == .completed)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        }
    }
}

/// Lets a test hold an activity inside its attempt until it opens the gate.
final class Gate: Sendable {
    private let state = Mutex<(entered: Bool, open: Bool)>((false, false))

    func enter() async throws {
        state.withLock { $0.entered = true }
        while !state.withLock({ $0.open }) { try await Task.sleep(for: .milliseconds(10)) }
    }

    func waitUntilEntered() async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while !state.withLock({ $0.entered }), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
    }

    func open() { state.withLock { $0.open = true } }

    var isOpen: Bool { state.withLock { $0.open } }
}

/// Records one row per run in `effects`, inside the completion transaction. `sleep_ms` makes the
/// database sleep after the write; `block` waits for the test's gate after it; `stubborn_ms`
/// waits that long ignoring cancellation, then opens the gate.
struct RecordEffect: TransactionalActivity {
    static let name = "effect.record"
    struct Input: Decodable, Sendable {
        var sleep_ms: Int?
        var block: Bool?
        var stubborn_ms: Int?
        var idle_ms: Int?
    }
    let gate: Gate

    static func createTable(_ harness: TestHarness) async throws {
        _ = try await harness.client.withConnection { connection in
            try await connection.query(
                "CREATE TABLE effects (workflow_id text NOT NULL, attempt int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())",
                logger: harness.logger)
        }
    }

    func run(_ input: Input, context: ActivityContext, connection: PostgresConnection) async throws -> JSONValue {
        try await connection.query(
            "INSERT INTO effects (workflow_id, attempt) VALUES (\(context.workflowID), \(context.attempt))", logger: context.logger)
        if let milliseconds = input.sleep_ms {
            try await connection.query("SELECT pg_sleep(\(Double(milliseconds) / 1000))", logger: context.logger)
        }
        if let milliseconds = input.idle_ms {
            try await Task.sleep(for: .milliseconds(milliseconds))
        }
        if input.block == true { try await gate.enter() }
        if let milliseconds = input.stubborn_ms {
            await waitIgnoringCancellation(.milliseconds(milliseconds))
            gate.open()
        }
        return ["recorded": true]
    }
}
