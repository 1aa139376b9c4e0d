import Activities
import ArgumentParser
import Foundation
import Logging
import Orchestrator
import PostgresNIO
import Workflows

/// The benchmark workloads run in-process: W1 "chain3" (three no-op steps per workflow) and W2
/// "jobs" (one no-op task per workflow), preloaded, on a fresh database (see `scripts/bench.sh`).
/// `--grown N` first fills the tables with N finished workflows (a task and seven events each)
/// and analyzes them while no task is open, as a quiet night's autovacuum leaves a big database.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure throughput and latency on a fresh database (prints RESULT lines).")

    @OptionGroup var options: CommonOptions

    @Option(help: "w1 (chain3 throughput), w1lat (sequential chain3 latency), w2 (jobs), map (one workflow over n items, 16 at a time) or json (reader and writer, no database).")
    var workload: String = "w1"

    @Option(help: "Workflows to run (default 2000 for w1, 200 for w1lat, 10000 for w2), or a map's items (default 5000).")
    var n: Int?

    @Option(help: "Concurrent tasks in the worker.")
    var workers: Int = 16

    @Flag(inversion: .prefixedNo, help: "Eager dispatch: a completion runs the next task at once on an idle worker (--no-eager-dispatch to compare).")
    var eagerDispatch = true

    @Option(help: "Finished workflows to fill the tables with first, analyzed while no task is open.")
    var grown: Int = 0

    @Option(help: "Print a workload's workflow file (chain3 or job) and exit: what `scripts/bench-peers.sh` serves.")
    var printWorkflow: String?

    static let chain3 = """
        type: chain3
        start: step1
        states:
          step1: {task: noop, input: {step: 1, i: $.input.i}, next: step2}
          step2: {task: noop, input: {step: 2, i: $.step1.i}, next: step3}
          step3: {task: noop, input: {step: 3, i: $.step2.i}, next: done}
          done: {succeed: true, output: $.step3}
        """
    static let fanout = """
        type: fanout
        start: each
        states:
          each: {map: {items: $.input.items, task: noop, input: {item: $.item}, max_concurrency: 16}, next: done}
          done: {succeed: true}
        """
    static let job = """
        type: job
        start: run
        states:
          run: {task: noop, input: $.input, next: done}
          done: {succeed: true, output: $.run}
        """

    func run() async throws {
        if let printWorkflow {
            guard let yaml = ["chain3": Self.chain3, "job": Self.job][printWorkflow] else {
                throw ValidationError("no workflow '\(printWorkflow)': chain3 or job")
            }
            print(yaml)
            return
        }
        if workload == "json" { return try JSONBenchmark.run() }
        let logger = try {
            var logger = try options.makeLogger(label: "orchestrator.bench")
            logger.logLevel = .warning
            return logger
        }()
        let server = try options.database()
        let name = "orchestrator_bench_\(getpid())"
        let admin = try await PostgresConnection.connect(configuration: server.connectionConfiguration(), id: 1, logger: logger)
        try await admin.query("DROP DATABASE IF EXISTS \(unescaped: name) WITH (FORCE)", logger: logger)
        try await admin.query("CREATE DATABASE \(unescaped: name)", logger: logger)
        let database = server.with(database: name)
        try await database.withPool(maximumConnections: 16, logger: logger) { pool in
            let client = pool.client
            try await Migrator().migrate(client: client, logger: logger)
            var registry = ActivityRegistry()
            registry.register(NoopActivity())
            let loader = WorkflowLoader(knownActivities: registry.names)
            let engine = Engine(pool: pool, logger: logger)
            try await engine.install(try [(Self.chain3, "chain3.yaml"), (Self.job, "job.yaml"), (Self.fanout, "fanout.yaml")].map { try loader.load(yaml: $0, file: $1).get() })
            var configuration = Worker.Configuration(concurrency: workers)
            configuration.eagerDispatch = eagerDispatch
            let worker = Worker(engine: engine, registry: registry, database: database, configuration: configuration, logger: logger)
            if grown > 0 { try await grow(client, finished: grown, logger: logger) }
            switch workload {
            case "w1": try await throughput(engine: engine, worker: worker, client: client, type: "chain3", n: n ?? 2000, steps: 3)
            case "w2": try await throughput(engine: engine, worker: worker, client: client, type: "job", n: n ?? 10_000, steps: 1)
            case "map": try await fanOut(engine: engine, worker: worker, items: n ?? 5000)
            case "w1lat":
                let watcher = WorkflowWatcher(engine: engine, database: database, logger: logger)
                try await latency(engine: engine, worker: worker, watcher: watcher, n: n ?? 200)
            default: throw ValidationError("unknown workload '\(workload)'")
            }
        }
        try await admin.query("DROP DATABASE IF EXISTS \(unescaped: name) WITH (FORCE)", logger: logger)
        try await admin.close()
    }

    /// `finished` completed `job` workflows, each with its task and seven events, then `VACUUM
    /// ANALYZE` while no task is open. The throughput counts only what completes after them.
    func grow(_ client: PostgresClient, finished: Int, logger: Logger) async throws {
        let started = ContinuousClock.now
        try await client.withConnection { connection in
            // Slices of 100,000, on a session without a statement timeout (a million rows take minutes).
            try await connection.query("SET statement_timeout TO 0", logger: logger)
            for first in stride(from: 1, through: finished, by: 100_000) {
                let last = min(first + 99_999, finished)
                // Ids as the engine makes them (`WorkflowID`: version 7), a day old, one millisecond apart.
                try await connection.query(
                    """
                    WITH ids AS (
                        SELECT g, lpad(to_hex((extract(epoch FROM now()) * 1000)::int8 - 86400000 + g), 12, '0') AS t, gen_random_uuid()::text AS r
                        FROM generate_series(\(first), \(last)) g),
                    grown AS (
                        INSERT INTO orchestrator.workflows (id, type, version, status, input, context, output, request_hash, created_at, updated_at, completed_at)
                        SELECT substr(t, 1, 8) || '-' || substr(t, 9, 4) || '-7' || substr(r, 16, 3) || substr(r, 19), d.type, d.version, 'completed',
                               '{"i": 0}', '{"run": {"i": 0}}', '{"i": 0}', 'grown', now(), now(), now()
                        FROM ids, (SELECT type, version FROM orchestrator.definitions WHERE type = 'job' LIMIT 1) d
                        RETURNING id),
                    tasks AS (
                        INSERT INTO orchestrator.tasks (workflow_id, state, visit, kind, activity, input, result, status, attempt, max_attempts, run_at,
                                                        timeout_ms, idempotency_key, created_at, started_at, completed_at)
                        SELECT id, 'run', 1, 'activity', 'noop', '{"i": 0}', '{"i": 0}', 'completed', 1, 3, now(), 30000, id, now(), now(), now()
                        FROM grown)
                    INSERT INTO orchestrator.events (workflow_id, seq, type, state, at)
                    SELECT id, s, (ARRAY['workflow_started', 'state_entered', 'task_scheduled', 'task_started', 'task_completed',
                                         'state_entered', 'workflow_completed'])[s], 'run', now()
                    FROM grown, generate_series(1, 7) s
                    """, logger: logger)
            }
            for table in ["workflows", "tasks", "events"] {
                try await connection.query("VACUUM ANALYZE orchestrator.\(unescaped: table)", logger: logger)
            }
        }
        print(String(format: "GROWN workflows=%d tasks=%d events=%d seconds=%.1f", finished, finished, finished * 7, (ContinuousClock.now - started).seconds))
    }

    /// Workflows completed among those created since `since` (a range of `workflows_status`, so
    /// counting costs the run's rows, not the grown ones).
    func completed(_ client: PostgresClient, since: Date) async throws -> Int {
        let rows = try await client.query("SELECT count(*) FROM orchestrator.workflows WHERE status = 'completed' AND created_at >= \(since)")
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }

    func throughput(engine: Engine, worker: Worker, client: PostgresClient, type: String, n: Int, steps: Int) async throws {
        let t0 = ContinuousClock.now
        let since = Date()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<8 {
                group.addTask {
                    for i in stride(from: lane, to: n, by: 8) {
                        _ = try await engine.lifecycle.start(StartRequest(type: type, input: ["i": .number(Double(i))]))
                    }
                }
            }
            try await group.waitForAll()
        }
        let enqueueSeconds = (ContinuousClock.now - t0).seconds
        let spawn = ContinuousClock.now
        let (first, firstCount, last) = try await withThrowingTaskGroup(of: (ContinuousClock.Instant, Int, ContinuousClock.Instant)?.self) { group in
            group.addTask {
                try await worker.run()
                return nil
            }
            group.addTask {
                var first: (ContinuousClock.Instant, Int)?
                while true {
                    let count = try await completed(client, since: since)
                    let now = ContinuousClock.now
                    if first == nil, count > 0 { first = (now, count) }
                    if count >= n, let first { return (first.0, first.1, now) }
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            let result = try await group.next()!!
            group.cancelAll()
            return result
        }
        let perSecond = Double(n - firstCount) / (last - first).seconds
        print(String(
            format: "RESULT system=orchestrator workload=%@ n=%d workers=%d eager=%@ grown=%d items_per_s=%.0f steps_per_s=%.0f enqueue_per_s=%.0f spawn_to_done_s=%.2f",
            type == "job" ? "w2" : "w1tput", n, workers, eagerDispatch ? "on" : "off", grown, perSecond, perSecond * Double(steps), Double(n) / enqueueSeconds, (last - spawn).seconds))
    }

    /// One workflow over `items` items (each `{"sku": …, "qty": …}`), 16 in flight: from its start
    /// to its end. A map costs about its items' worth of work, or more when each item's
    /// completion grows with the map.
    func fanOut(engine: Engine, worker: Worker, items: Int) async throws {
        let list = JSONValue.array((0..<items).map { index -> JSONValue in ["sku": .string("sku-\(index)"), "qty": .number(Double(index % 7 + 1))] })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await worker.run() }
            defer { group.cancelAll() }
            let started = ContinuousClock.now
            let id = try await engine.lifecycle.start(StartRequest(type: "fanout", input: ["items": list])).workflow.id
            while try await engine.reads.workflow(id).status == .running { try await Task.sleep(for: .milliseconds(20)) }
            let seconds = (ContinuousClock.now - started).seconds
            let ended = try await engine.reads.workflow(id)
            if let error = ended.error { print("map workflow \(ended.status.rawValue): \(error.code): \(error.message)") }
            let status = ended.status
            print(String(
                format: "RESULT system=orchestrator workload=map items=%d workers=%d status=%@ seconds=%.2f items_per_s=%.0f",
                items, workers, status.rawValue, seconds, Double(items) / seconds))
        }
    }

    /// One workflow at a time: from the start to the caller having its result, woken by the
    /// database's announcement (as `POST /v1/workflows?wait=` is).
    func latency(engine: Engine, worker: Worker, watcher: WorkflowWatcher, n: Int) async throws {
        var samples: [Double] = []
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await worker.run() }
            group.addTask { try await watcher.run() }
            defer { group.cancelAll() }
            let wall = ContinuousClock.now
            for i in -10..<n {
                let started = ContinuousClock.now
                let id = try await engine.lifecycle.start(StartRequest(type: "chain3", input: ["i": .number(Double(i))])).workflow.id
                let finished = try await watcher.settled(id, within: .seconds(30))
                guard finished.status == .completed else { throw ValidationError("workflow \(id) is \(finished.status.rawValue) after 30 s") }
                if i >= 0 { samples.append((ContinuousClock.now - started).seconds * 1000) }
            }
            let sorted = samples.sorted()
            func rank(_ p: Double) -> Double { sorted[max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1)] }
            print(String(
                format: "RESULT system=orchestrator workload=w1lat n=%d workers=%d eager=%@ p50_ms=%.1f p95_ms=%.1f p99_ms=%.1f max_ms=%.1f seq_per_s=%.1f",
                n, workers, eagerDispatch ? "on" : "off", rank(0.5), rank(0.95), rank(0.99), sorted.last ?? 0, Double(n) / (ContinuousClock.now - wall).seconds))
        }
    }
}
