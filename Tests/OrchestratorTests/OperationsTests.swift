import Foundation
import Logging
import Orchestrator
import PostgresNIO
import ServiceLifecycle
import Testing

/// Schedules, versions, limits, transactional activities and the worker service itself.
@Suite struct OperationsTests {
    static let nightly = """
        type: nightly
        start: settle
        schedule: {cron: "0 2 * * *", input: {batch: nightly}}
        states:
          settle: {task: noop, next: done}
          done: {succeed: true}
        """

    @Test func cronScheduleFiredByTwoConcurrentSchedulersRunsOnce() async throws {
        try await TestDatabase.withHarness(workflows: [Self.nightly]) { harness in
            // The clock starts at 2027-01-15 08:00 UTC; the first fire time is 02:00 the next day.
            #expect(try await harness.engine.lifecycle.fireDueSchedules().isEmpty)
            harness.clock.advance(by: .seconds(18 * 3600))
            let second = Engine(pool: harness.pool, clock: harness.clock, logger: harness.logger)
            try await second.install(harness.engine.definitions)
            async let fromFirst = harness.engine.lifecycle.fireDueSchedules()
            async let fromSecond = second.lifecycle.fireDueSchedules()
            let started = try await fromFirst + fromSecond
            #expect(started.count == 1)
            #expect(started.first?.input == ["batch": "nightly"])
            #expect(try await harness.engine.lifecycle.fireDueSchedules().isEmpty)
            let count = try await harness.query("SELECT count(*) FROM orchestrator.workflows WHERE type = 'nightly'", as: Int64.self)
            #expect(count == [1])
            // A day later it fires again, once.
            harness.clock.advance(by: .seconds(24 * 3600))
            #expect(try await harness.engine.lifecycle.fireDueSchedules().count == 1)
        }
    }

    @Test func instancesFinishOnThePinnedVersionAfterTheFileChanges() async throws {
        let v1 = """
            type: evolving
            start: first
            states:
              first: {task: noop, next: second}
              second: {task: noop, next: done}
              done: {succeed: true, output: {version: 1}}
            """
        let v2 = """
            type: evolving
            start: only
            states:
              only: {task: noop, next: done}
              done: {succeed: true, output: {version: 2}}
            """
        try await TestDatabase.withHarness(workflows: [v1]) { harness in
            let old = try await harness.start("evolving")
            try await harness.engine.install([try TestDatabase.definition(v2)])
            let new = try await harness.start("evolving")
            #expect(old.version != new.version)
            // A fresh engine (a restarted process) knows only v2 in memory and loads v1 from the database.
            let restarted = Engine(pool: harness.pool, clock: harness.clock, logger: harness.logger)
            try await restarted.install([try TestDatabase.definition(v2)])
            let worker = Worker(engine: restarted, registry: harness.registry, database: harness.database, configuration: .init(concurrency: 4), logger: harness.logger)
            try await harness.drain(worker: worker)
            #expect(try await harness.engine.reads.workflow(old.id).output == ["version": 1])
            #expect(try await harness.engine.reads.workflow(new.id).output == ["version": 2])
            #expect(try await harness.stateEntries(old.id) == ["first", "second", "done"])
        }
    }

    @Test func activityLimitCapsRunningTasksAcrossWorkers() async throws {
        let yaml = """
            type: limited
            start: pay
            states:
              pay: {task: noop, next: done}
              done: {succeed: true}
            """
        var configuration = Engine.Configuration()
        configuration.activityLimits = [ActivityLimit(pattern: "noop", maxRunning: 3)]
        try await TestDatabase.withHarness(workflows: [yaml], configuration: configuration) { harness in
            for _ in 0..<10 { _ = try await harness.start("limited") }
            let first = try await harness.engine.queue.claim(owner: "a", limit: 10)
            let second = try await harness.engine.queue.claim(owner: "b", limit: 10)
            #expect(first.count == 3)
            #expect(second.isEmpty)
            try await harness.engine.transaction { try await harness.engine.queue.conclude(first[0], outcome: .completed([:]), on: $0) }
            #expect(try await harness.engine.queue.claim(owner: "b", limit: 10).count == 1)
        }
    }

    @Test func transactionalActivityWritesCommitExactlyOnceWithTheTransition() async throws {
        let yaml = """
            type: stock
            start: reserve
            states:
              reserve: {task: stock.reserve, input: $.input, next: done, catch: [{errors: [insufficient_stock], next: out}]}
              done: {succeed: true}
              out: {fail: {error: out_of_stock}}
            """
        var registry = TestDatabase.registry()
        registry.register(ReserveStock())
        try await TestDatabase.withHarness(workflows: [yaml], registry: registry) { harness in
            try await harness.client.withConnection { connection in
                try await connection.query("CREATE TABLE stock (sku text PRIMARY KEY, available int NOT NULL)", logger: harness.logger)
                try await connection.query("INSERT INTO stock VALUES ('tea', 1)", logger: harness.logger)
            }
            let first = try await harness.start("stock", input: ["sku": "tea"])
            let second = try await harness.start("stock", input: ["sku": "tea"])
            try await harness.drain()
            // Both attempts run at once: whichever commits first gets the last one.
            let outcomes = [try await harness.engine.reads.workflow(first.id), try await harness.engine.reads.workflow(second.id)]
            #expect(outcomes.filter { $0.status == .completed }.count == 1)
            #expect(outcomes.filter { $0.error?.code == "out_of_stock" }.count == 1)
            let left = try await harness.query("SELECT available FROM stock", as: Int32.self)
            #expect(left == [0])
        }
    }

    @Test func workerServiceWakesOnNotifyAndDrainsOnGracefulShutdown() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            // Real time here: the service polls rarely, so finishing fast proves LISTEN/NOTIFY woke it.
            let engine = Engine(pool: harness.pool, logger: harness.logger)
            try await engine.install(harness.engine.definitions)
            var configuration = Worker.Configuration(concurrency: 4)
            configuration.pollInterval = .seconds(60)
            let worker = Worker(engine: engine, registry: harness.registry, database: harness.database, configuration: configuration, logger: harness.logger)
            let group = ServiceGroup(services: [worker], logger: harness.logger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                try await Task.sleep(for: .milliseconds(300))  // let it LISTEN
                var ids: [String] = []
                for i in 0..<20 { ids.append(try await engine.lifecycle.start(StartRequest(type: "chain", input: ["i": .number(Double(i))])).workflow.id) }
                let deadline = ContinuousClock.now + .seconds(30)
                while ContinuousClock.now < deadline {
                    let done = try await harness.query("SELECT count(*) FROM orchestrator.workflows WHERE status = 'completed'", as: Int64.self)
                    if done == [20] { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                for id in ids { #expect(try await engine.reads.workflow(id).status == .completed) }
            }
            let stopped = try await harness.query("SELECT count(*) FROM orchestrator.workers WHERE stopped_at IS NOT NULL", as: Int64.self)
            #expect(stopped == [1])
        }
    }
}

/// Decrements a stock row inside the completion transaction.
struct ReserveStock: TransactionalActivity {
    static let name = "stock.reserve"
    struct Input: Decodable, Sendable { var sku: String }

    func run(_ input: Input, context: ActivityContext, connection: PostgresConnection) async throws -> JSONValue {
        let rows = try await connection.query(
            "UPDATE stock SET available = available - 1 WHERE sku = \(input.sku) AND available > 0 RETURNING available",
            logger: context.logger)
        for try await left in rows.decode(Int32.self) { return ["left": .number(Double(left))] }
        throw ActivityError.nonRetryable("insufficient_stock", "no \(input.sku) left")
    }

    @Test func workersSilentForADayAreForgottenAndLiveOnesKept() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            let now = harness.clock.now()
            for (id, silent) in [("live", 5.0), ("stopped-yesterday", 90_000), ("vanished-last-week", 604_800)] {
                _ = try await harness.client.withConnection { connection in
                    try await connection.query(
                        """
                        INSERT INTO orchestrator.workers (id, host, pid, concurrency, started_at, heartbeat_at)
                        VALUES (\(id), 'host', 1, 4, \(now.addingTimeInterval(-silent - 60)), \(now.addingTimeInterval(-silent)))
                        """, logger: harness.logger)
                }
            }
            #expect(try await harness.engine.operations.forgetSilentWorkers() == 2)
            #expect(try await harness.query("SELECT id FROM orchestrator.workers", as: String.self) == ["live"])
        }
    }
}
