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

    @Option(help: "Folder for the embedded database and dev keys (env ORCHESTRATOR_DATA_DIR).")
    var dataDir: String?

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
        let dataFolder = URL(fileURLWithPath: dataDir ?? environment["ORCHESTRATOR_DATA_DIR"] ?? "./data")
        let (keyring, generated) = try loadKeys(dataFolder: dataFolder)
        let loaded = try EngineRuntime.loadDefinitions(options: options)
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
        if options.databaseURL != nil || environment["DATABASE_URL"] != nil {
            database = try options.database()
        } else {
            embedded = EmbeddedPostgres(folder: dataFolder, logger: logger)
            database = try await embedded!.start()
        }
        defer { embedded?.stop() }

        let runtime = try EngineRuntime.make(loaded: loaded, engineOptions: engineOptions, database: database, logger: logger)
        let probe = DatabaseProbe(database: database, logger: logger)
        var services: [any Service] = [
            probe, Scheduler(engine: runtime.engine), Rescuer(engine: runtime.engine),
            try APIServer.application(
                engine: runtime.engine, settings: .init(
                    host: host, port: port, keyring: keyring, bodyLimit: bodyLimit, edge: edge, probe: probe, commerce: runtime.commerce),
                logger: logger),
        ]
        if workers > 0 { services.append(runtime.worker(concurrency: workers)) }
        printBanner(host: host, port: port, keyring: keyring, generated: generated, embedded: embedded != nil, dataFolder: dataFolder, runtime: runtime)
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

    func printBanner(host: String, port: Int, keyring: APIKeyring, generated: Bool, embedded: Bool, dataFolder: URL, runtime: EngineRuntime) {
        var lines = ["", "Orchestrator serving on http://\(host):\(port)"]
        lines.append(embedded ? "  database: embedded PostgreSQL in \(dataFolder.path)/postgres" : "  database: \(runtime.database.host):\(runtime.database.port)/\(runtime.database.database)")
        lines.append("  workflows: \(runtime.definitions.map(\.type).sorted().joined(separator: ", "))")
        if generated {
            lines.append("  dev API keys (kept in \(dataFolder.path)/dev-api-keys; set ORCHESTRATOR_API_KEYS in production):")
            for key in keyring.keys { lines.append("    \(key.role.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(key.secret)") }
            if let client = keyring.keys.first(where: { $0.role == .client }), let sample = runtime.definitions.first(where: { $0.type == "order_fulfillment" }) ?? runtime.definitions.first {
                lines.append("  try it:")
                lines.append("    curl -s -X POST http://\(host):\(port)/v1/workflows -H 'Authorization: Bearer \(client.secret)' -H 'Content-Type: application/json' \\")
                lines.append("      -d '{\"type\": \"\(sample.type)\", \"input\": \(Self.sampleInput(for: sample.type).jsonText)}'")
            }
        }
        lines.append("")
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }

    static func sampleInput(for type: String) -> JSONValue {
        type == "order_fulfillment" ? ["order_id": "A-1001", "lines": [["sku": "tea", "quantity": 2]]] : .emptyObject
    }
}
