import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where a running `orchestrator serve` is, so the other commands find it from any folder.
///
/// Once its listener is up, the server writes `server.json` into its data folder (with an embedded
/// database) and a copy into the user's state folder (`$XDG_STATE_HOME/orchestrator`, else `~/.local/state/orchestrator`);
/// it removes both when it stops. A file whose process is gone is ignored. It holds no secret:
/// the embedded database's password stays in the data folder (mode 0600).
struct ServerDiscovery: Codable, Sendable, Equatable {
    var pid: Int32
    var url: String
    var dataDir: String
    var workflowsDir: String
    /// False when the server runs on `DATABASE_URL`: then the commands need that URL too.
    var embeddedDatabase: Bool

    static let fileName = "server.json"

    enum CodingKeys: String, CodingKey {
        case pid, url
        case dataDir = "data_dir"
        case workflowsDir = "workflows_dir"
        case embeddedDatabase = "embedded_database"
    }

    /// The user's copy: the last server this user started.
    static func userFile(environment: [String: String]) -> URL? {
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") {
            return URL(fileURLWithPath: state).appendingPathComponent("orchestrator").appendingPathComponent(fileName)
        }
        guard let home = environment["HOME"], home.hasPrefix("/") else { return nil }
        return URL(fileURLWithPath: home).appendingPathComponent(".local/state/orchestrator").appendingPathComponent(fileName)
    }

    static func file(inDataFolder folder: URL) -> URL {
        folder.appendingPathComponent(fileName)
    }

    /// The server `file` describes, whether or not it still runs.
    static func read(_ file: URL) -> ServerDiscovery? {
        (try? Data(contentsOf: file)).flatMap { try? JSONDecoder().decode(ServerDiscovery.self, from: $0) }
    }

    /// The server described by `file`, if that process still runs.
    static func running(at file: URL) -> ServerDiscovery? {
        guard let found = read(file), kill(found.pid, 0) == 0 || errno == EPERM else { return nil }
        return found
    }

    /// The data folder's file (only a server with an embedded database uses one) and the user's.
    private func files(environment: [String: String]) -> [URL] {
        (embeddedDatabase ? [Self.file(inDataFolder: URL(fileURLWithPath: dataDir))] : []) + [Self.userFile(environment: environment)].compactMap { $0 }
    }

    /// Writes the files (the user's copy only where the user has a state folder).
    func publish(environment: [String: String]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(self)
        for file in files(environment: environment) {
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: file, options: .atomic)
        }
    }

    /// Removes the files that still describe this process (another server may have replaced the user's copy).
    func withdraw(environment: [String: String]) {
        for file in files(environment: environment) where Self.read(file)?.pid == pid {
            try? FileManager.default.removeItem(at: file)
        }
    }
}
