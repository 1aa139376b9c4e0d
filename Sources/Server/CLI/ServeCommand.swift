import Activities
import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import Orchestrator
import ServiceLifecycle

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the HTTP API, the workers, the scheduler and the rescuer.")

    @OptionGroup var options: CommonOptions
    @OptionGroup var engineOptions: EngineOptions
    @OptionGroup var edgeOptions: EdgeOptions

    @Option(help: "Listen address (env ORCHESTRATOR_HOST).")
    var host: String?

    @Option(help: "Listen port (env ORCHESTRATOR_PORT).")
    var port: Int?

    @Option(help: "File of API keys, one role:key (or role:name:key) per line; else ORCHESTRATOR_API_KEYS; else dev keys are generated.")
    var apiKeysFile: String?

    @Option(help: "Largest request body in bytes (env ORCHESTRATOR_BODY_LIMIT).")
    var bodyLimit: Int?

    func run() async throws {
        let logger = try options.makeLogger(label: "orchestrator")
        let environment = options.environment
        _ = try engineOptions.workerCount()  // refuse a bad value before anything starts
        let host = host ?? environment["ORCHESTRATOR_HOST"] ?? "127.0.0.1"
        let port = try port ?? environment["ORCHESTRATOR_PORT"].map { text in
            guard let value = Int(text) else { throw ValidationError("ORCHESTRATOR_PORT must be a number, got '\(text)'") }
            return value
        } ?? 8080
        guard (0...65535).contains(port) else { throw ValidationError("port must be between 0 and 65535") }
        let bodyLimit = try bodyLimit ?? environment["ORCHESTRATOR_BODY_LIMIT"].map { text in
            guard let value = Int(text), value > 0 else { throw ValidationError("ORCHESTRATOR_BODY_LIMIT must be a positive number") }
            return value
        } ?? (1 << 20)
        let edge = try edgeOptions.limits(environment: environment)
        let dataFolder = options.location.dataFolder.standardizedFileURL
        let (keyring, generated) = try loadKeys(dataFolder: dataFolder)
        let loaded = try EngineRuntime.loadDefinitions(options: options, discovering: false)
        do {
            try await serve(loaded: loaded, keyring: keyring, generatedKeys: generated, host: host, port: port, bodyLimit: bodyLimit, edge: edge, dataFolder: dataFolder, logger: logger)
        } catch {
            // The HTTP client must be shut down on every way out (`runtime.run` does it on the normal one).
            try? await loaded.environment.httpClient.shutdown()
            throw error
        }
    }

    private func serve(
        loaded: EngineRuntime.Loaded, keyring: APIKeyring, generatedKeys generated: Bool, host: String, port: Int, bodyLimit: Int,
        edge: EdgeLimits, dataFolder: URL, logger: Logger
    ) async throws {
        let environment = options.environment
        let workers = try engineOptions.workerCount()

        var embedded: EmbeddedPostgres?
        let database: DatabaseConfiguration
        if options.location.explicitDatabaseURL != nil {
            database = try options.database()
        } else {
            embedded = EmbeddedPostgres(folder: dataFolder, logger: logger)
            database = try await embedded!.start()
        }
        defer { embedded?.stop() }

        let runtime = try EngineRuntime.make(loaded: loaded, engineOptions: engineOptions, database: database, logger: logger)
        let banner = ServeBanner(
            host: host, port: port,
            database: embedded != nil ? "embedded PostgreSQL in \(dataFolder.appendingPathComponent("postgres").path)" : "\(database.host):\(database.port)/\(database.database)",
            workflowTypes: runtime.definitions.map(\.type), workflowsFolder: loaded.folder,
            devKeys: generated ? (keyring, dataFolder.appendingPathComponent("dev-api-keys").path) : nil,
            commandLine: ServeBanner.commandLine(environment: environment))
        let probe = DatabaseProbe(database: database, logger: logger)
        let discovery = ServerDiscovery(
            pid: getpid(), url: "", dataDir: dataFolder.path, workflowsDir: loaded.folder, embeddedDatabase: embedded != nil)
        // One LISTEN connection for the process: the worker's wake-ups (when it runs one) and the
        // watcher's waiters.
        let notifications = NotificationListener(
            channels: workers > 0 ? [WorkflowStore.taskChannel, WorkflowWatcher.channel] : [WorkflowWatcher.channel], database: database, logger: logger)
        let watcher = WorkflowWatcher(engine: runtime.engine, database: database, notifications: notifications, logger: logger)
        let application = try APIServer.application(
            engine: runtime.engine, settings: .init(
                host: host, port: port, keyring: keyring, bodyLimit: bodyLimit, edge: edge, probe: probe,
                commerce: runtime.commerce, watcher: watcher),
            logger: logger,
            onListening: { port in
                var banner = banner
                banner.port = port
                var published = discovery
                published.url = banner.baseURL
                do {
                    try published.publish(environment: environment)
                } catch {
                    logger.warning("could not write the discovery file", metadata: [LogKey.error: "\(error)"])
                }
                FileHandle.standardOutput.write(Data((banner.text + "\n").utf8))
            })
        defer { discovery.withdraw(environment: environment) }
        // Shut down in reverse order: the worker finishes its attempts, then waiting callers get
        // their answers, then the HTTP server drains.
        var services: [any Service] = [
            probe, notifications, Scheduler(engine: runtime.engine), Rescuer(engine: runtime.engine), Pruner(engine: runtime.engine), application, watcher,
        ]
        if workers > 0 { services.append(runtime.worker(concurrency: workers, notifications: notifications)) }
        try await runtime.run(services)
    }

    /// Keys from the file, the environment, or (dev mode) generated once and kept in the data folder.
    func loadKeys(dataFolder: URL) throws -> (APIKeyring, generated: Bool) {
        if let apiKeysFile {
            guard let text = try? String(contentsOfFile: apiKeysFile, encoding: .utf8) else {
                throw ExitMessage("cannot read the API keys file \(apiKeysFile)")
            }
            return (try APIKeyring.parse(text, source: apiKeysFile), false)
        }
        if let text = options.environment["ORCHESTRATOR_API_KEYS"] {
            return (try APIKeyring.parse(text, source: "ORCHESTRATOR_API_KEYS"), false)
        }
        let file = dataFolder.appendingPathComponent("dev-api-keys")
        if let text = try? String(contentsOf: file, encoding: .utf8) {
            return (try APIKeyring.parse(text, source: file.path), true)
        }
        let keyring = APIKeyring.generate()
        try FileManager.default.createDirectory(at: dataFolder, withIntermediateDirectories: true)
        try keyring.serialized.write(to: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
        return (keyring, true)
    }
}
