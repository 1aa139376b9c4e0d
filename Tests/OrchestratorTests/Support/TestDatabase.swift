import Activities
import Foundation
import Logging
import Orchestrator
import PostgresNIO
import Testing
import Workflows

/// A fresh database per test on the cluster `scripts/test.sh` started, migrated, with an engine.
struct TestHarness: Sendable {
    let database: DatabaseConfiguration
    let pool: DatabasePool
    let engine: Engine
    let clock: ManualWallClock
    let registry: ActivityRegistry
    let logger: Logger

    var client: PostgresClient { pool.client }

    /// Another session that holds the workflow's row lock until its transaction commits
    /// (`COMMIT`, then `close()`): what a slow transition looks like from outside.
    func holdRowLock(ofWorkflow id: String) async throws -> PostgresConnection {
        let session = try await PostgresConnection.connect(configuration: database.connectionConfiguration(), id: 9, logger: logger)
        try await session.query("BEGIN", logger: logger)
        try await session.query("SELECT 1 FROM orchestrator.workflows WHERE id = \(id) FOR UPDATE", logger: logger)
        return session
    }

    /// A worker over this harness's engine that tests step by hand with `drain()`.
    func worker(id: String = "test-worker", concurrency: Int = 8) -> Worker {
        Worker(engine: engine, registry: registry, database: database, configuration: .init(id: id, concurrency: concurrency), logger: logger)
    }

    /// Runs due tasks until none is left; returns how many ran.
    @discardableResult
    func drain(worker: Worker? = nil, maxRounds: Int = 200) async throws -> Int {
        let worker = worker ?? self.worker()
        var total = 0
        for _ in 0..<maxRounds {
            let ran = try await worker.runDue()
            if ran == 0 { return total }
            total += ran
        }
        Issue.record("tasks still due after \(maxRounds) rounds")
        return total
    }

    func start(_ type: String, input: JSONValue = .emptyObject, id: String? = nil) async throws -> WorkflowRecord {
        try await engine.lifecycle.start(StartRequest(type: type, input: input, id: id)).workflow
    }

    func query<T: PostgresDecodable & Sendable>(_ query: PostgresQuery, as type: T.Type) async throws -> [T] {
        try await client.withConnection { connection in
            var values: [T] = []
            for try await value in try await connection.query(query, logger: logger).decode(T.self) { values.append(value) }
            return values
        }
    }

    func stateEntries(_ workflowID: String) async throws -> [String] {
        try await engine.reads.history(workflowID).filter { $0.type == .stateEntered }.compactMap(\.state)
    }
}

enum TestDatabase {
    static var server: DatabaseConfiguration {
        get throws {
            guard let url = ProcessInfo.processInfo.environment["ORCHESTRATOR_TEST_DATABASE_URL"] else {
                throw OrchestratorError(.configuration, "ORCHESTRATOR_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh")
            }
            return try DatabaseConfiguration(url: url)
        }
    }

    static let logger: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        return logger
    }()

    /// Creates an empty database (on the test cluster, or on `server`) and returns its configuration.
    static func create(on server: DatabaseConfiguration? = nil) async throws -> DatabaseConfiguration {
        let server = try server ?? Self.server
        let name = "test_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased())"
        let admin = try await PostgresConnection.connect(configuration: server.connectionConfiguration(), id: 1, logger: logger)
        try await admin.query("CREATE DATABASE \(unescaped: name)", logger: logger)
        try await admin.close()
        return server.with(database: name)
    }

    /// Runs `body` against a migrated database with `workflows` (YAML texts) installed.
    static func withHarness<T: Sendable>(
        workflows: [String],
        registry: ActivityRegistry = TestDatabase.registry(),
        configuration: Engine.Configuration = .init(),
        clockStart: Date = Date(timeIntervalSince1970: 1_800_000_000),
        server: DatabaseConfiguration? = nil,
        _ body: (TestHarness) async throws -> T
    ) async throws -> T {
        let database = try await create(on: server)
        return try await database.withPool(maximumConnections: 10, logger: logger) { pool in
            try await Migrator().migrate(client: pool.client, logger: logger)
            let clock = ManualWallClock(clockStart)
            let engine = Engine(pool: pool, configuration: configuration, clock: clock, logger: logger)
            try await engine.install(try workflows.map { try definition($0, registry: registry) })
            return try await body(TestHarness(database: database, pool: pool, engine: engine, clock: clock, registry: registry, logger: logger))
        }
    }

    static func definition(_ yaml: String, registry: ActivityRegistry = TestDatabase.registry()) throws -> WorkflowDefinition {
        let type = yaml.split(separator: "\n").first { $0.hasPrefix("type:") }.map { $0.dropFirst(5).trimmingCharacters(in: .whitespaces) } ?? "test"
        return try WorkflowLoader(knownActivities: registry.names).load(yaml: yaml, file: "\(type).yaml").get()
    }

    /// Built-ins without network access plus the scripted test activities.
    static func registry(_ script: ActivityScript = ActivityScript()) -> ActivityRegistry {
        var registry = ActivityRegistry()
        registry.register(NoopActivity())
        registry.register("script") { input, context in try await script.run(input, context: context) }
        return registry
    }
}
