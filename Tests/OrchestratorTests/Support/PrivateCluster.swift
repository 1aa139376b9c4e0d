import Foundation
import Orchestrator
import Testing

/// A PostgreSQL cluster of one test's own, from the installed server binaries, so the test may
/// stop and start it (the shared test cluster must stay up for the other tests).
final class PrivateCluster: Sendable {
    let folder: URL
    let port: Int

    var data: URL { folder.appendingPathComponent("data") }
    var server: DatabaseConfiguration { DatabaseConfiguration(host: "127.0.0.1", port: port, username: "postgres", database: "postgres") }

    init() async throws {
        folder = try Executable.temporaryFolder()
        port = APIServerProcess.freePort()
        if getuid() == 0 {
            try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: folder.path)
        }
        try await Self.run("initdb", ["-D", data.path, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8"])
    }

    func start() async throws {
        try await Self.run("pg_ctl", [
            "-D", data.path, "-l", folder.appendingPathComponent("server.log").path, "-w", "-t", "60",
            "-o", "-c listen_addresses=127.0.0.1 -c port=\(port) -c unix_socket_directories='\(data.path)' -c max_connections=200 -c fsync=off",
            "start",
        ])
    }

    func stop() async throws {
        try await Self.run("pg_ctl", ["-D", data.path, "-m", "fast", "-w", "-t", "60", "stop"])
    }

    /// Runs `body` with a started cluster, removed afterwards whatever happens.
    static func withCluster<T>(_ body: (PrivateCluster) async throws -> T) async throws -> T {
        let cluster = try await PrivateCluster()
        do {
            try await cluster.start()
            let result = try await body(cluster)
            await cluster.remove()
            return result
        } catch {
            await cluster.remove()
            throw error
        }
    }

    /// Stops the cluster (if it runs) and removes its files.
    func remove() async {
        try? await stop()
        try? FileManager.default.removeItem(at: folder)
    }

    /// Runs a PostgreSQL server binary (as the postgres user when root) to completion.
    static func run(_ tool: String, _ arguments: [String]) async throws {
        let bin = try #require(
            ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).compactMap(Int.init).max().map {
                "/usr/lib/postgresql/\($0)/bin/\(tool)"
            })
        let command = getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--", bin] + arguments : [bin] + arguments
        let process = try ChildProcess(command[0], Array(command.dropFirst()))
        let exit = await process.exit(within: .seconds(120))
        await process.stop()
        guard exit == .status(0) else {
            throw OrchestratorError(.configuration, "\(tool) \(arguments.last ?? "") failed: \(exit.map { "\($0)" } ?? "still running after 120 s")")
        }
    }
}
