import AsyncHTTPClient
import Activities
import Foundation
import Logging
import NIOCore
import Orchestrator
import PostgresNIO
import ServiceLifecycle
import UnixSignals
import Workflows

/// The parts a serving process wires together: database client, engine, activities, definitions.
struct EngineRuntime {
    let database: DatabaseConfiguration
    let pool: DatabasePool
    /// The engine's time: the database server's (see `DatabaseClock`).
    let clock: DatabaseClock
    let engine: Engine
    let shutdownGrace: Duration
    let registry: ActivityRegistry
    let httpClient: HTTPClient
    let commerce: CommerceServices
    let definitions: [WorkflowDefinition]
    let logger: Logger

    /// The activities and the validated workflow files (and the folder they came from), loaded
    /// before anything touches the database, so an invalid file stops the process with every error listed.
    typealias Loaded = (registry: ActivityRegistry, environment: ActivityEnvironment, definitions: [WorkflowDefinition], folder: String)

    /// `discovering`: without a workflows folder given or in the current folder, use the running
    /// server's (every command but `serve`).
    static func loadDefinitions(options: CommonOptions, discovering: Bool) throws -> Loaded {
        let folder = URL(fileURLWithPath: options.workflowsFolder(discovering: discovering)).standardizedFileURL.path
        var httpConfiguration = HTTPClient.Configuration()
        httpConfiguration.timeout = .init(connect: .seconds(5), read: .seconds(60))
        httpConfiguration.redirectConfiguration = .disallow
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: httpConfiguration)
        let environment: ActivityEnvironment
        do {
            let settings = try CommerceSettings(environment: options.environment)
            let allowList = try OutboundAllowList(parsing: options.environment["ORCHESTRATOR_HTTP_ALLOW"] ?? "")
            let commerce = CommerceServices(settings: settings, httpClient: httpClient)
            environment = ActivityEnvironment(httpClient: httpClient, httpAllowList: allowList, commerce: commerce)
        } catch {
            try? httpClient.syncShutdown()
            throw ExitMessage("invalid settings: \(error)")
        }
        let registry = OrchestratorCommand.activities(environment)
        do {
            let definitions = try WorkflowLoader(knownActivities: registry.names).loadDirectory(folder)
            return (registry, environment, definitions, folder)
        } catch {
            try? httpClient.syncShutdown()
            throw ExitMessage("invalid workflow files in \(folder):\n\(error.errors.map { "  \($0)" }.joined(separator: "\n"))")
        }
    }

    static func make(loaded: Loaded, engineOptions: EngineOptions, database: DatabaseConfiguration, logger: Logger) throws -> EngineRuntime {
        let (registry, environment, definitions, _) = loaded
        var configuration = Engine.Configuration()
        let shutdownGrace: Duration
        do {
            configuration.activityLimits = try engineOptions.parsedActivityLimits()
            configuration.lateAfter = try engineOptions.parsedLateAfter()
            try engineOptions.applyLimits(to: &configuration)
            shutdownGrace = try engineOptions.parsedShutdownGrace()
        } catch {
            try? environment.httpClient.syncShutdown()
            throw error
        }
        let pool = DatabasePool(database: database, logger: logger)
        let clock = DatabaseClock(pool: pool, logger: logger)
        let engine = Engine(pool: pool, configuration: configuration, clock: clock, logger: logger)
        return EngineRuntime(
            database: database, pool: pool, clock: clock, engine: engine, shutdownGrace: shutdownGrace,
            registry: registry, httpClient: environment.httpClient, commerce: environment.commerce, definitions: definitions, logger: logger)
    }

    func worker(concurrency: Int, notifications: NotificationListener? = nil) -> Worker {
        var configuration = Worker.Configuration(concurrency: concurrency)
        configuration.shutdownGrace = shutdownGrace
        return Worker(engine: engine, registry: registry, database: database, configuration: configuration, notifications: notifications, logger: logger)
    }

    /// Runs `services` beside the database client until SIGTERM/SIGINT, after migrating and
    /// installing the definitions.
    func run(_ services: [any Service]) async throws {
        let preparation = PreparationService(runtime: self, services: services)
        var configuration = ServiceGroupConfiguration(
            services: [.init(service: pool), .init(service: preparation)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        // Workers release what is still running at the grace; anything else gets a little more, then is cancelled.
        configuration.maximumGracefulShutdownDuration = shutdownGrace + .seconds(10)
        let group = ServiceGroup(configuration: configuration)
        try await group.run()
        try await httpClient.shutdown()
    }
}

/// Migrates and installs definitions once the pool runs, then runs the engine's services in a
/// nested group so they shut down before the pool does.
struct PreparationService: Service {
    let runtime: EngineRuntime
    let services: [any Service]

    func run() async throws {
        var applied: [String] = []
        for migrator in try Migrator.all() { applied += try await migrator.migrate(client: runtime.pool.client, logger: runtime.logger) }
        if !applied.isEmpty { runtime.logger.info("migrations applied", metadata: ["migrations": "\(applied.joined(separator: ", "))"]) }
        try await runtime.clock.synchronize()
        try await runtime.engine.install(runtime.definitions)
        runtime.logger.info("workflow definitions installed", metadata: ["types": "\(runtime.definitions.map { "\($0.type)@\($0.version)" }.sorted().joined(separator: ", "))"])
        let group = ServiceGroup(configuration: .init(services: ([runtime.clock] + services).map { .init(service: $0) }, logger: runtime.logger))
        try await withGracefulShutdownHandler {
            try await group.run()
        } onGracefulShutdown: {
            Task { await group.triggerGracefulShutdown() }
        }
    }
}

extension Migrator {
    /// The engine's migrations, then the commerce schema's.
    static func all() throws -> [Migrator] {
        [try Migrator(), try CommerceSchema.migrator()]
    }
}

/// A message printed as is when the process exits non-zero.
struct ExitMessage: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
