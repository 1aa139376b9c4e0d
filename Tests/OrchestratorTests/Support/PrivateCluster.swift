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

    init() throws {
        folder = try Executable.temporaryFolder()
        port = APIServerProcess.freePort()
        if getuid() == 0 {
            try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: folder.path)
        }
        try Self.run("initdb", ["-D", data.path, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8"])
    }

    func start() throws {
        try Self.run("pg_ctl", [
            "-D", data.path, "-l", folder.appendingPathComponent("server.log").path, "-w", "-t", "60",
            "-o", "-c listen_addresses=127.0.0.1 -c port=\(port) -c unix_socket_directories='\(data.path)' -c max_connections=200 -c fsync=off",
            "start",
        ])
    }

    func stop() throws {
        try Self.run("pg_ctl", ["-D", data.path, "-m", "fast", "-w", "-t", "60", "stop"])
    }

    /// Stops the cluster (if it runs) and removes its files.
    func remove() {
        try? stop()
        try? FileManager.default.removeItem(at: folder)
    }

    /// Runs a PostgreSQL server binary (as the postgres user when root) and waits for it.
    static func run(_ tool: String, _ arguments: [String]) throws {
        let bin = try #require(
            ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).compactMap(Int.init).max().map {
                "/usr/lib/postgresql/\($0)/bin/\(tool)"
            })
        let command = getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--", bin] + arguments : [bin] + arguments
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, command[0], &actions, nil, argv, environ) == 0 else {
            throw OrchestratorError(.configuration, "could not run \(tool)")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        guard status == 0 else { throw OrchestratorError(.configuration, "\(tool) \(arguments.last ?? "") failed with status \(status)") }
    }
}
