import Foundation
import Logging
@testable import Orchestrator
import PostgresNIO
import Synchronization
import Testing

/// The completer keeps every outcome until it is committed (or its lease is provably gone), one
/// bad item stalls nobody, and group commits lock workflows in one global order.
@Suite struct CompleterTests {
    static let wide = """
        type: wide
        start: each
        states:
          each: {map: {items: $.input.items, task: noop, max_concurrency: 20}, next: done}
          done: {succeed: true}
        """

    @Test func groupCommitsInOppositeOrdersDoNotDeadlock() async throws {
        let log = CapturedLog()
        try await TestDatabase.withHarness(workflows: [Self.wide]) { harness in
            var ids: [String] = []
            for _ in 0..<8 { ids.append(try await harness.start("wide", input: ["items": [1, 2, 3, 4, 5]]).id) }
            let claimed = try await harness.engine.queue.claim(owner: "w", limit: 100)
            #expect(claimed.count == 40)
            let items = claimed.sorted { ($0.workflowID, $0.itemIndex ?? 0) < ($1.workflowID, $1.itemIndex ?? 0) }
                .map { ($0, TaskOutcome.completed(["ok": true])) }
            let first = Completer(engine: harness.engine, logger: log.logger)
            let second = Completer(engine: harness.engine, logger: log.logger)
            await withTaskGroup(of: Void.self) { group in
                for (task, outcome) in items { group.addTask { await first.submit(task, outcome) } }
                for (task, outcome) in items.reversed() { group.addTask { await second.submit(task, outcome) } }
                try? await Task.sleep(for: .milliseconds(300))  // both queues fill before either commits
                let runs = Task {
                    async let a: Void = first.run()
                    async let b: Void = second.run()
                    _ = await (a, b)
                }
                for _ in 0..<(2 * items.count) { await group.next() }
                runs.cancel()
                await runs.value
            }
            for id in ids { #expect(try await harness.engine.reads.workflow(id).status == .completed) }
            #expect(!log.messages.contains { $0.contains("deadlock") }, "\(log.messages)")
        }
    }

    static let pairs = """
        type: pairs
        start: each
        states:
          each: {map: {items: $.input.items, task: noop, input: {item: $.item}, max_concurrency: 2}, next: done}
          done: {succeed: true, output: $.each}
        """

    /// One batch, one set of statements: two items of one map, a failure that retries and an
    /// attempt whose lease is gone end together, each as it would alone.
    @Test func aBatchConcludesEachAttemptAsItWouldAlone() async throws {
        try await TestDatabase.withHarness(workflows: [Self.pairs, ExecutionTests.chain]) { harness in
            let map = try await harness.start("pairs", input: ["items": [10, 11, 12, 13, 14]])
            let chain = try await harness.start("chain", input: ["i": 1])
            let claimed = try await harness.engine.queue.claim(owner: "w", limit: 10)
            let items = claimed.filter { $0.workflowID == map.id }.sorted { ($0.itemIndex ?? 0) < ($1.itemIndex ?? 0) }
            let step = try #require(claimed.first { $0.workflowID == chain.id })
            #expect(items.count == 2)
            var stale = items[0]
            stale.leaseNumber -= 1
            let ended = try await harness.engine.transaction { connection in
                try await harness.engine.queue.conclude([
                    FinishedAttempt(task: items[0], outcome: .completed(["item": 10])),
                    FinishedAttempt(task: stale, outcome: .completed(["stale": true])),
                    FinishedAttempt(task: items[1], outcome: .completed(["item": 11])),
                    FinishedAttempt(task: step, outcome: .failed(ActivityError(code: "flaky", message: "try again"))),
                ], on: connection)
            }
            #expect(ended == [true, false, true, true])
            // Each finished item made room for exactly one more: items 2 and 3, once each.
            let scheduled = try await harness.query(
                "SELECT item_index FROM orchestrator.tasks WHERE workflow_id = \(map.id) ORDER BY item_index", as: Int32.self)
            #expect(scheduled == [0, 1, 2, 3])
            let retried = try await harness.query(
                "SELECT status FROM orchestrator.tasks WHERE workflow_id = \(chain.id)", as: String.self)
            #expect(retried == ["failed"])
            let history = try await harness.engine.reads.history(map.id).map(\.type)
            #expect(history.filter { $0 == .taskCompleted }.count == 2)

            try await harness.drain()
            let done = try await harness.engine.reads.workflow(map.id)
            #expect(done.status == .completed)
            #expect(done.output == [["item": 10], ["item": 11], ["item": 12], ["item": 13], ["item": 14]])
        }
    }

    /// A worker's slot frees once an attempt's outcome is queued: the next task runs while that
    /// outcome's commit waits (here on a lock another session holds).
    @Test func anAttemptsSlotFreesOnceItsOutcomeIsQueued() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            let held = try await harness.start("chain", input: ["i": 1])
            let blocker = try await harness.holdRowLock(ofWorkflow: held.id)
            let worker = harness.worker(concurrency: 1)
            let run = Task { try await worker.run() }
            /// Whether `id`'s first step is claimed within 10 s.
            func firstStepClaimed(_ id: String) async throws -> Bool {
                for _ in 0..<200 {
                    let claimed = try await harness.query(
                        "SELECT count(*) FROM orchestrator.tasks WHERE workflow_id = \(id) AND attempt = 1", as: Int64.self)
                    if claimed == [1] { return true }
                    try await Task.sleep(for: .milliseconds(50))
                }
                return false
            }
            // The held workflow's first step runs, and its commit waits for the lock...
            #expect(try await firstStepClaimed(held.id))
            // ...while a workflow started meanwhile gets the one slot and its first step runs too.
            let other = try await harness.start("chain", input: ["i": 2])
            #expect(try await firstStepClaimed(other.id), "the second task waited for the first one's commit")
            try await blocker.query("COMMIT", logger: harness.logger)
            try await blocker.close()
            for id in [held.id, other.id] {
                for _ in 0..<600 where try await harness.engine.reads.workflow(id).status != .completed { try await Task.sleep(for: .milliseconds(50)) }
                #expect(try await harness.engine.reads.workflow(id).status == .completed)
            }
            run.cancel()
            _ = await run.result
        }
    }

    static let caughtPairs = """
        type: caught_pairs
        start: each
        states:
          each:
            map: {items: $.input.items, task: noop, max_concurrency: 2}
            next: done
            catch: [{errors: [item_failed], next: recovered}]
          done: {succeed: true}
          recovered: {succeed: true}
        """

    /// An item's completion schedules the next item; a sibling caught in the same batch leaves
    /// the state: the item just scheduled is cancelled with the others, not left to run.
    @Test func aCaughtItemCancelsWhatItsBatchScheduled() async throws {
        try await TestDatabase.withHarness(workflows: [Self.caughtPairs]) { harness in
            let workflow = try await harness.start("caught_pairs", input: ["items": [0, 1, 2, 3]])
            let items = try await harness.engine.queue.claim(owner: "w", limit: 10).sorted { ($0.itemIndex ?? 0) < ($1.itemIndex ?? 0) }
            #expect(items.count == 2)
            _ = try await harness.engine.transaction { connection in
                try await harness.engine.queue.conclude([
                    FinishedAttempt(task: items[0], outcome: .completed(["item": 0])),
                    FinishedAttempt(task: items[1], outcome: .failed(.nonRetryable("item_failed", "item 1 failed"))),
                ], on: connection)
            }
            let ended = try await harness.engine.reads.workflow(workflow.id)
            #expect(ended.status == .completed && ended.state == "recovered")
            let open = try await harness.query(
                "SELECT count(*) FROM orchestrator.tasks WHERE workflow_id = \(workflow.id) AND status IN ('ready', 'running')", as: Int64.self)
            #expect(open == [0])
        }
    }

    @Test func anOutcomeIsKeptUntilItCommitsEvenWhenTheDatabaseRefusesItForLong() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            let workflow = try await harness.start("chain", input: ["i": 1])
            let task = try #require(try await harness.engine.queue.claim(owner: "w", limit: 1).first)
            // Each commit attempt fails fast on the lock another session holds for 15 s.
            let blocker = try await harness.holdRowLock(ofWorkflow: workflow.id)
            try await Self.withEngine(over: harness, lockTimeout: "100ms") { engine in
                let completer = Completer(engine: engine, logger: harness.logger)
                let run = Task { await completer.run() }
                let submitted = Task { await completer.submit(task, .completed(["i": 1])) }
                try await Task.sleep(for: .seconds(15))
                try await blocker.query("COMMIT", logger: harness.logger)
                #expect(await submitted.value)
                run.cancel()
                await run.value
            }
            try await blocker.close()
            let moved = try await harness.engine.reads.workflow(workflow.id)
            #expect(moved.state == "two")
            #expect(moved.context["one"] == ["i": 1])
        }
    }

    /// A queued outcome wakes a lane that waits; one queued while every lane commits is taken by
    /// the first lane to finish (lanes that find nothing wait with no timer, so a lost wake-up
    /// would hold it for ever).
    @Test func anOutcomeQueuedWhileEveryLaneCommitsIsTakenWhenOneIsFree() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            var ids: [String] = []
            for i in 0..<3 { ids.append(try await harness.start("chain", input: ["i": .number(Double(i))]).id) }
            let claimed = try await harness.engine.queue.claim(owner: "w", limit: 3).sorted { $0.workflowID < $1.workflowID }
            #expect(claimed.map(\.workflowID) == ids.sorted())
            let blockers = [try await harness.holdRowLock(ofWorkflow: claimed[0].workflowID), try await harness.holdRowLock(ofWorkflow: claimed[1].workflowID)]
            /// How many of the completer's sessions wait for a row lock.
            func waitingForLocks() async throws -> Int64 {
                try await harness.query(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'", as: Int64.self)[0]
            }
            // The lanes wait for the locks however slow the machine is (the sessions' default
            // lock timeout, 30 s, would free a lane and let it take the third outcome).
            try await Self.withEngine(over: harness, lockTimeout: "0") { engine in
                let completer = Completer(engine: engine, lanes: 2, logger: harness.logger)
                let run = Task { await completer.run() }
                // Each held outcome occupies a lane: the second is queued once the first lane waits on its lock.
                for (index, task) in claimed.prefix(2).enumerated() {
                    await completer.hand(task, .completed(["i": 1]))
                    for _ in 0..<1200 where try await waitingForLocks() <= index { try await Task.sleep(for: .milliseconds(50)) }
                    #expect(try await waitingForLocks() == Int64(index + 1))
                }
                await completer.hand(claimed[2], .completed(["i": 1]))
                try await Task.sleep(for: .milliseconds(300))
                #expect(try await harness.engine.reads.workflow(claimed[2].workflowID).state == "one", "no lane was free to take it")
                for blocker in blockers {
                    try await blocker.query("COMMIT", logger: harness.logger)
                    try await blocker.close()
                }
                #expect(try await Self.moved(ids, harness, within: .seconds(60)))
                run.cancel()
                await run.value
            }
        }
    }

    @Test func aPoisonedOutcomeDoesNotHoldBackTheOthers() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            let poisoned = try await harness.start("chain", input: ["i": 0])
            var healthy: [String] = []
            for i in 1...3 { healthy.append(try await harness.start("chain", input: ["i": .number(Double(i))]).id) }
            let claimed = try await harness.engine.queue.claim(owner: "w", limit: 10)
            try await harness.client.withConnection { connection in
                try await connection.query(
                    """
                    CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'poisoned'; END $$
                    """, logger: harness.logger)
                try await connection.query(
                    """
                    CREATE TRIGGER poison BEFORE UPDATE ON orchestrator.tasks FOR EACH ROW
                    WHEN (NEW.workflow_id = \(unescaped: "'\(poisoned.id)'")) EXECUTE FUNCTION refuse()
                    """, logger: harness.logger)
            }
            // All four outcomes are queued before the completer runs: its first batch holds them all.
            let completer = Completer(engine: harness.engine, logger: harness.logger)
            #expect(claimed.count == 4)
            for task in claimed { await completer.hand(task, .completed(["i": 1])) }
            let run = Task { await completer.run() }
            // The poisoned outcome cannot commit while the trigger stands: the healthy ones committing
            // before it goes is the proof. The bound only ends a completer that holds them back
            // (on two cores, the whole suite's first minute has taken over 6 s to commit them).
            #expect(try await Self.moved(healthy, harness, within: .seconds(60)), "healthy outcomes committed while the poisoned one kept failing")
            #expect(try await harness.engine.reads.workflow(poisoned.id).state == "one")
            _ = try await harness.client.withConnection { connection in
                try await connection.query("DROP TRIGGER poison ON orchestrator.tasks", logger: harness.logger)
            }
            #expect(try await Self.moved([poisoned.id], harness, within: .seconds(60)), "the poisoned outcome commits once it can")
            run.cancel()
            await run.value
        }
    }
}

extension CompleterTests {
    /// Whether every workflow of `ids` reached state `two` within `limit`.
    static func moved(_ ids: [String], _ harness: TestHarness, within limit: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            var moved = 0
            for id in ids where try await harness.engine.reads.workflow(id).state == "two" { moved += 1 }
            if moved == ids.count { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// Runs `body` with an engine over the harness's database whose sessions give up a lock wait
    /// after `lockTimeout` ("0": never).
    static func withEngine(over harness: TestHarness, lockTimeout: String, _ body: (Engine) async throws -> Void) async throws {
        var configuration = harness.database.clientConfiguration(maximumConnections: 4)
        configuration.options.additionalStartupParameters = [("lock_timeout", lockTimeout)]
        let pool = DatabasePool(database: harness.database, clientConfiguration: configuration, logger: harness.logger)
        try await pool.whileRunning {
            let engine = Engine(pool: pool, clock: harness.clock, logger: harness.logger)
            try await engine.install(harness.engine.definitions)
            try await body(engine)
        }
    }
}

/// Collects log messages (with their metadata) so a test can read what a component reported.
final class CapturedLog: Sendable {
    private let lines = Mutex<[String]>([])
    var messages: [String] { lines.withLock { $0 } }

    var logger: Logger {
        Logger(label: "captured") { _ in Handler(log: self) }
    }

    func append(_ line: String) { lines.withLock { $0.append(line) } }

    struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            log.append("\(event.level) \(event.message) \(event.metadata ?? [:])")
        }
    }
}
