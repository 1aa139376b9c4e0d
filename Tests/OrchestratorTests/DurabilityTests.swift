import Activities
import AsyncHTTPClient
import Foundation
import Orchestrator
import PostgresNIO
import ServiceLifecycle
import Testing

/// The durability proof: real `orchestrator` processes killed, restarted, shut down and run side by
/// side against one database, and a database that goes away. Each test is bounded and seeded.
@Suite(.serialized) struct DurabilityTests {
    static let chaos = """
        type: chaos
        start: call
        retry: {max_attempts: 20, initial_interval: 200ms, max_interval: 2s}
        states:
          call: {task: http, input: {url: $.input.first, method: POST, body: {n: $.input.n, step: call}}, timeout: 3s, next: count}
          count: {task: test.count_effect, timeout: 3s, next: confirm}
          confirm: {task: http, input: {url: $.input.second, method: POST, body: {n: $.input.n, step: confirm}}, timeout: 3s, next: done}
          done: {succeed: true}
        """

    static let slowChain = """
        type: slow_chain
        start: one
        states:
          one: {task: http, input: {url: $.input.url, method: POST, body: {n: $.input.n, step: one}}, timeout: 60s, next: two}
          two: {task: http, input: {url: $.input.url, method: POST, body: {n: $.input.n, step: two}}, timeout: 60s, next: done}
          done: {succeed: true}
        """

    static let call = """
        type: call
        start: call
        states:
          call: {task: http, input: {url: $.input.url, method: POST, body: {n: $.input.n}}, timeout: 120s, next: done}
          done: {succeed: true}
        """

    static let ticker = """
        type: ticker
        start: tick
        schedule: {cron: "0 3 * * *"}
        states:
          tick: {task: noop, next: done}
          done: {succeed: true}
        """

    /// The harness only validates and starts; the processes run the tasks.
    static var registry: ActivityRegistry {
        var registry = TestDatabase.registry()
        registry.register(HTTPActivity(client: .shared, allowList: .loopback))
        registry.register("test.count_effect") { input, _ in input }
        return registry
    }

    static func server(_ harness: TestHarness, _ workflows: [String], _ arguments: [String]) async throws -> APIServerProcess {
        try await APIServerProcess(workflows: workflows, databaseURL: harness.databaseURL, arguments: arguments, executable: Executable.testServerURL)
    }

    static func count(_ harness: TestHarness, _ query: PostgresQuery) async throws -> Int64 {
        try await harness.query(query, as: Int64.self).first ?? -1
    }

    /// Polls until `query` counts `expected` (bounded); returns the last count.
    @discardableResult
    static func waitForCount(_ harness: TestHarness, _ query: PostgresQuery, _ expected: Int64, timeout: Duration) async throws -> Int64 {
        let deadline = ContinuousClock.now + timeout
        var last: Int64 = -1
        while ContinuousClock.now < deadline {
            // The database may be coming back: a failed read is just another poll.
            if let value = try? await count(harness, query) {
                last = value
                if value == expected { return value }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return last
    }

    @Test func killNineTenTimesLosesNothingAndDoesNothingTwice() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Executable.testServerURL.path))
        let http = RecordingHTTPServer()
        try await http.start()
        defer { Task { await http.stop() } }
        let workflows = 1000
        try await TestDatabase.withHarness(workflows: [Self.chaos], registry: Self.registry, clockStart: Date()) { harness in
            try await Self.createEffects(harness)
            var server = try await Self.server(harness, [Self.chaos], ["--workers", "16"])
            for n in 0..<workflows {
                _ = try await harness.engine.lifecycle.start(StartRequest(
                    type: "chaos", input: ["n": .number(Double(n)), "first": .string(http.url("/call")), "second": .string(http.url("/confirm"))]))
            }
            var random = SeededRandom(seed: 20261125)
            for _ in 1...10 {
                try await Task.sleep(for: .milliseconds(Int.random(in: 200...1500, using: &random)))
                await server.crash()
                server = try await Self.server(harness, [Self.chaos], ["--workers", "16"])
            }
            let completed = try await Self.waitForCount(
                harness, "SELECT count(*) FROM orchestrator.workflows WHERE status = 'completed'", Int64(workflows), timeout: .seconds(240))
            await server.stop()
            #expect(completed == Int64(workflows))
            #expect(try await Self.count(harness, "SELECT count(*) FROM orchestrator.tasks WHERE status IN ('ready', 'running', 'failed')") == 0)
            #expect(try await Self.count(harness, "SELECT count(*) FROM orchestrator.dead_letters") == 0)
            // No state was entered twice in one workflow (the type has no loops).
            #expect(try await Self.count(harness, """
                SELECT count(*) FROM (SELECT workflow_id, state FROM orchestrator.events WHERE type = 'state_entered'
                                      GROUP BY workflow_id, state HAVING count(*) > 1) twice
                """) == 0)
            // Transactional writes: exactly once per workflow.
            #expect(try await Self.count(harness, "SELECT count(*) FROM test_effects") == Int64(workflows))
            #expect(try await Self.count(harness, "SELECT count(*) FROM test_effects WHERE runs <> 1") == 0)
            // Every attempt of a task carried the same idempotency key; every task reached the service.
            var keys: [String: Set<String>] = [:]
            for request in http.requests {
                let body = try JSONValue(json: request.body)
                keys["\(body["n"]?.numberValue ?? -1)/\(body["step"]?.stringValue ?? "")", default: []].insert(request.idempotencyKey)
            }
            #expect(keys.count == 2 * workflows)
            #expect(keys.values.allSatisfy { $0.count == 1 })
            let rescued = try await Self.count(harness, "SELECT count(*) FROM orchestrator.events WHERE data->'error'->>'code' = 'lease_expired'")
            print("kill -9 chaos: \(workflows) workflows, 10 kills, \(http.requests.count) calls for \(2 * workflows) http tasks, \(rescued) attempts rescued")
        }
    }

    @Test func aTwentySecondDatabaseOutageLosesNoSucceededStep() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Executable.testServerURL.path))
        let http = RecordingHTTPServer()
        try await http.start()
        defer { Task { await http.stop() } }
        http.setDelay(.seconds(2), for: "/slow")
        let workflows = 16
        try await PrivateCluster.withCluster { cluster in
            try await TestDatabase.withHarness(workflows: [Self.slowChain], registry: Self.registry, clockStart: Date(), server: cluster.server) { harness in
                let server = try await Self.server(harness, [Self.slowChain], ["--workers", "8"])
                for n in 0..<workflows {
                    _ = try await harness.engine.lifecycle.start(StartRequest(type: "slow_chain", input: ["n": .number(Double(n)), "url": .string(http.url("/slow"))]))
                }
                let deadline = ContinuousClock.now + .seconds(30)
                while http.inFlight < 8, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
                #expect(http.inFlight == 8)
                try await cluster.stop()
                try await Task.sleep(for: .seconds(20))
                try await cluster.start()
                let completed = try await Self.waitForCount(
                    harness, "SELECT count(*) FROM orchestrator.workflows WHERE status = 'completed'", Int64(workflows), timeout: .seconds(120))
                await server.stop()
                #expect(completed == Int64(workflows))
                #expect(try await Self.count(harness, "SELECT count(*) FROM orchestrator.dead_letters") == 0)
                // The outcomes of the calls in flight were kept through the outage and committed after it.
                #expect(try await Self.count(harness, "SELECT count(*) FROM orchestrator.events WHERE type = 'task_failed'") == 0)
            }
        }
    }

    @Test func threeProcessesShareOneQueueOneLimitAndOneSchedule() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Executable.testServerURL.path))
        let http = RecordingHTTPServer()
        try await http.start()
        defer { Task { await http.stop() } }
        http.setDelay(.milliseconds(150), for: "/limited")
        let workflows = 30
        let types = [Self.call, Self.ticker]
        try await TestDatabase.withHarness(workflows: types, registry: Self.registry, clockStart: Date()) { harness in
            var servers = [try await Self.server(harness, types, ["--workers", "6", "--activity-limits", "http=2"])]
            for _ in 0..<2 { servers.append(try await Self.server(harness, types, ["--workers", "6"])) }
            for n in 0..<workflows {
                _ = try await harness.engine.lifecycle.start(StartRequest(type: "call", input: ["n": .number(Double(n)), "url": .string(http.url("/limited"))]))
            }
            // Make the schedule due now: all three schedulers race for the one fire time.
            _ = try await harness.query("UPDATE orchestrator.schedules SET next_fire_at = now() - interval '1 second' RETURNING 1", as: Int32.self)
            var maxRunning: Int64 = 0
            let deadline = ContinuousClock.now + .seconds(90)
            var completed: Int64 = 0
            while completed < Int64(workflows) + 1, ContinuousClock.now < deadline {
                maxRunning = max(maxRunning, try await Self.count(harness, "SELECT count(*) FROM orchestrator.tasks WHERE status = 'running' AND activity = 'http'"))
                completed = try await Self.count(harness, "SELECT count(*) FROM orchestrator.workflows WHERE status = 'completed'")
                try await Task.sleep(for: .milliseconds(10))
            }
            try await Task.sleep(for: .seconds(6))  // every scheduler has had another pass
            for server in servers { await server.stop() }
            #expect(completed == Int64(workflows) + 1)
            #expect(http.overlappingKeys.isEmpty, "a task ran on two workers at once")
            #expect(http.maxInFlight("/limited") <= 2)
            #expect(maxRunning <= 2)
            #expect(try await Self.count(harness, "SELECT count(*) FROM orchestrator.workflows WHERE type = 'ticker'") == 1)
            print("three processes: \(workflows) calls, at most \(http.maxInFlight("/limited")) at once at the service, \(maxRunning) running sampled (limit 2)")
        }
    }

    @Test func sigtermReleasesLongTasksAtTheGraceAndLosesNothing() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Executable.testServerURL.path))
        let http = RecordingHTTPServer()
        try await http.start()
        defer { Task { await http.stop() } }
        http.setDelay(.seconds(90), for: "/long")
        try await TestDatabase.withHarness(workflows: [Self.call], registry: Self.registry, clockStart: Date()) { harness in
            let server = try await Self.server(harness, [Self.call], ["--workers", "4", "--shutdown-grace", "2s"])
            var ids: [String] = []
            for n in 0..<4 {
                ids.append(try await harness.engine.lifecycle.start(StartRequest(type: "call", input: ["n": .number(Double(n)), "url": .string(http.url("/long"))])).workflow.id)
            }
            let deadline = ContinuousClock.now + .seconds(30)
            while http.inFlight < 4, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(http.inFlight == 4)
            let began = ContinuousClock.now
            let exited = await server.terminate(within: .seconds(20))
            let took = ContinuousClock.now - began
            #expect(exited, "still running 20 s after SIGTERM with a 2 s grace")
            #expect(server.process.exit == .status(0), "\(server.log)")
            await server.stop()
            // The abandoned attempts were released, not counted: due again at once.
            #expect(try await Self.count(harness, "SELECT count(*) FROM orchestrator.tasks WHERE status = 'ready' AND attempt = 0") == 4)
            http.setDelay(.milliseconds(5), for: "/long")
            let next = try await Self.server(harness, [Self.call], ["--workers", "4"])
            let completed = try await Self.waitForCount(harness, "SELECT count(*) FROM orchestrator.workflows WHERE status = 'completed'", 4, timeout: .seconds(60))
            await next.stop()
            #expect(completed == 4)
            #expect(try await Self.count(harness, "SELECT count(*) FROM orchestrator.events WHERE type = 'task_failed'") == 0)
            print("graceful shutdown: exited \(took) after SIGTERM with 4 calls of 90 s in flight (grace 2 s)")
        }
    }

    @Test func aTransactionHeldOpenForTheRunDoesNotStopTheQueue() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            let engine = Engine(pool: harness.pool, logger: harness.logger)
            try await engine.install(harness.engine.definitions)
            let free = try await Self.throughput(engine, harness, workflows: 1500)
            // An analytics query's snapshot, held for the whole second run: vacuum cannot remove what it might see.
            let analytics = try await PostgresConnection.connect(configuration: harness.database.connectionConfiguration(), id: 7, logger: harness.logger)
            try await analytics.query("BEGIN ISOLATION LEVEL REPEATABLE READ", logger: harness.logger)
            _ = try await analytics.query("SELECT count(*) FROM orchestrator.tasks", logger: harness.logger).collect()
            let held = try await Self.throughput(engine, harness, workflows: 1500)
            try await analytics.query("COMMIT", logger: harness.logger)
            try await analytics.close()
            print("held-back vacuum: \(Int(free)) workflows/s without, \(Int(held)) with a snapshot held open (3-step chain, debug build, test cluster)")
        }
    }

    /// Starts `workflows` chains and runs them with a worker service; every one must complete.
    static func throughput(_ engine: Engine, _ harness: TestHarness, workflows: Int) async throws -> Double {
        let before = try await count(harness, "SELECT count(*) FROM orchestrator.workflows WHERE status = 'completed'")
        for i in 0..<workflows { _ = try await engine.lifecycle.start(StartRequest(type: "chain", input: ["i": .number(Double(i))])) }
        let worker = Worker(engine: engine, registry: harness.registry, database: harness.database, configuration: .init(concurrency: 16), logger: harness.logger)
        let group = ServiceGroup(services: [worker], logger: harness.logger)
        let began = ContinuousClock.now
        var completed: Int64 = 0
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            completed = try await waitForCount(
                harness, "SELECT count(*) FROM orchestrator.workflows WHERE status = 'completed'", before + Int64(workflows), timeout: .seconds(120))
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let seconds = Double((ContinuousClock.now - began).components.seconds) + Double((ContinuousClock.now - began).components.attoseconds) / 1e18
        #expect(completed == before + Int64(workflows))
        return Double(workflows) / seconds
    }

    static func createEffects(_ harness: TestHarness) async throws {
        _ = try await harness.client.withConnection { connection in
            try await connection.query(
                "CREATE TABLE test_effects (workflow_id text, state text, runs int NOT NULL, PRIMARY KEY (workflow_id, state))",
                logger: harness.logger)
        }
    }
}

/// A reproducible generator (SplitMix64), so a chaos run can be replayed.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
