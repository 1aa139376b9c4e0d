import ArgumentParser
import Foundation
import Logging
import Orchestrator

/// Where the database is, for every command; each flag falls back to its environment variable.
struct DatabaseOptions: ParsableArguments {
    @Option(help: "PostgreSQL URL (env DATABASE_URL), e.g. postgres://user:pass@127.0.0.1:5432/orchestrator")
    var databaseURL: String?

    @Option(help: "Folder of the embedded database and the dev keys (env ORCHESTRATOR_DATA_DIR; default ./data, else the running server's).")
    var dataDir: String?

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    var explicitDatabaseURL: String? { databaseURL ?? environment["DATABASE_URL"] }

    /// The data folder given by flag or environment, if any.
    var explicitDataFolder: URL? { (dataDir ?? environment["ORCHESTRATOR_DATA_DIR"]).map { URL(fileURLWithPath: $0) } }

    /// Where `serve` keeps its embedded database and dev keys.
    var dataFolder: URL { explicitDataFolder ?? URL(fileURLWithPath: "./data") }

    /// The server this command should talk to: the one of the given data folder; else of
    /// `./data`; else the last one this user started, from any folder (see `ServerDiscovery`).
    var runningServer: ServerDiscovery? {
        if let explicitDataFolder { return ServerDiscovery.running(at: ServerDiscovery.file(inDataFolder: explicitDataFolder)) }
        return ServerDiscovery.running(at: ServerDiscovery.file(inDataFolder: dataFolder))
            ?? ServerDiscovery.userFile(environment: environment).flatMap(ServerDiscovery.running(at:))
    }

    /// The database of every command but `serve`: `--database-url` or `DATABASE_URL`; else the
    /// embedded database of the running server (`runningServer`).
    func database() throws -> DatabaseConfiguration {
        if let url = explicitDatabaseURL { return try DatabaseConfiguration(url: url) }
        let silent = Logger(label: "orchestrator.discovery", factory: { _ in SwiftLogNoOpLogHandler() })
        if let running = EmbeddedPostgres(folder: dataFolder, logger: silent).runningConfiguration() { return running }
        guard explicitDataFolder == nil, let server = runningServer else {
            throw ExitMessage("""
                no database: no server runs with its embedded database in \(dataFolder.path).
                Start one (scripts/run.sh), pass --data-dir with the folder a server uses, or set DATABASE_URL.
                """)
        }
        guard server.embeddedDatabase, let running = EmbeddedPostgres(folder: URL(fileURLWithPath: server.dataDir), logger: silent).runningConfiguration() else {
            throw ExitMessage("the server at \(server.url) (pid \(server.pid)) runs on DATABASE_URL: set the same DATABASE_URL for this command")
        }
        return running
    }
}
