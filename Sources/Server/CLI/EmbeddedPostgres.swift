import Foundation
import Logging
import Orchestrator
import PostgresNIO

#if canImport(Glibc)
import Glibc
#endif

/// A private PostgreSQL cluster under the data folder, from the installed server binaries, so a
/// new user needs no database set-up. Created on first run, reused after, stopped with the server.
struct EmbeddedPostgres {
    let folder: URL
    let logger: Logger

    var dataDirectory: URL { folder.appendingPathComponent("postgres") }
    var passwordFile: URL { folder.appendingPathComponent("postgres-password") }

    /// Starts the cluster (initializing it the first time) and returns the URL of its `orchestrator` database.
    func start() async throws -> DatabaseConfiguration {
        let binaries = try Self.findBinaries()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let password = try loadOrCreatePassword()
        let asRoot = getuid() == 0
        if !FileManager.default.fileExists(atPath: dataDirectory.appendingPathComponent("PG_VERSION").path) {
            logger.notice("creating the embedded PostgreSQL cluster", metadata: ["path": "\(dataDirectory.path)"])
            try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
            let initPassword = folder.appendingPathComponent(".initdb-password")
            try password.write(to: initPassword, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: initPassword) }
            if asRoot { try Self.run("/bin/chown", ["-R", "postgres", dataDirectory.path, initPassword.path]) }
            try run(binaries, "initdb", ["-D", dataDirectory.path, "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8",
                "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "--pwfile", initPassword.path], asRoot: asRoot)
        }
        let port = try runningPort() ?? startServer(binaries, asRoot: asRoot)
        let server = DatabaseConfiguration(port: port, username: "postgres", password: password, database: "postgres")
        let connection = try await PostgresConnection.connect(configuration: server.connectionConfiguration(), id: 1, logger: logger)
        let rows = try await connection.query("SELECT 1 FROM pg_database WHERE datname = 'orchestrator'", logger: logger)
        var exists = false
        for try await _ in rows { exists = true }
        if !exists { try await connection.query("CREATE DATABASE orchestrator", logger: logger) }
        try await connection.close()
        return server.with(database: "orchestrator")
    }

    /// The running cluster's database, if a server started it from this folder.
    func runningConfiguration() -> DatabaseConfiguration? {
        guard let port = try? runningPort(), let password = try? String(contentsOf: passwordFile, encoding: .utf8) else { return nil }
        return DatabaseConfiguration(port: port, username: "postgres", password: password.trimmingCharacters(in: .whitespacesAndNewlines), database: "orchestrator")
    }

    func stop() {
        guard let binaries = try? Self.findBinaries() else { return }
        do {
            try run(binaries, "pg_ctl", ["-D", dataDirectory.path, "-m", "fast", "-w", "-t", "60", "stop"], asRoot: getuid() == 0)
            logger.notice("embedded PostgreSQL stopped")
        } catch {
            logger.warning("could not stop the embedded PostgreSQL", metadata: [LogKey.error: "\(error)"])
        }
    }

    /// The port of a cluster that is already running from this folder (a crashed server left it).
    private func runningPort() throws -> Int? {
        let pidFile = dataDirectory.appendingPathComponent("postmaster.pid")
        guard let text = try? String(contentsOf: pidFile, encoding: .utf8) else { return nil }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count > 3, let pid = Int32(lines[0]), kill(pid, 0) == 0, let port = Int(lines[3]) else { return nil }
        return port
    }

    private func startServer(_ binaries: URL, asRoot: Bool) throws -> Int {
        let port = try Self.freePort()
        let options = "-c listen_addresses=127.0.0.1 -c port=\(port) -c unix_socket_directories='\(dataDirectory.path)'"
        try run(binaries, "pg_ctl", ["-D", dataDirectory.path, "-l", dataDirectory.appendingPathComponent("server.log").path,
            "-o", options, "-w", "-t", "60", "start"], asRoot: asRoot)
        logger.notice("embedded PostgreSQL started", metadata: ["port": "\(port)", "path": "\(dataDirectory.path)"])
        return port
    }

    private func loadOrCreatePassword() throws -> String {
        if let existing = try? String(contentsOf: passwordFile, encoding: .utf8), !existing.isEmpty {
            return existing.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var generator = SystemRandomNumberGenerator()
        let password = (0..<32).map { _ in String(UInt8.random(in: 0..<36, using: &generator), radix: 36) }.joined()
        try password.write(to: passwordFile, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: passwordFile.path)
        return password
    }

    private func run(_ binaries: URL, _ tool: String, _ arguments: [String], asRoot: Bool) throws {
        let path = binaries.appendingPathComponent(tool).path
        if asRoot {
            try Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", path] + arguments)
        } else {
            try Self.run(path, arguments)
        }
    }

    /// Runs a tool to completion (`ProcessSpawn`, then `waitpid`). Its output goes to a file, not
    /// a pipe: the server that `pg_ctl start` leaves running would hold a pipe open for ever.
    private static func run(_ executable: String, _ arguments: [String]) throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("orchestrator-\(UUID().uuidString).log").path
        defer { unlink(log) }
        let pid: pid_t
        do {
            pid = try ProcessSpawn.start(executable, arguments, output: log)
        } catch {
            throw ExitMessage("cannot run \(executable): \(error)")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        guard status == 0 else {
            let printed = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw ExitMessage("\((executable as NSString).lastPathComponent) \(arguments.first ?? "") failed:\n\(printed)")
        }
    }

    /// The newest installed PostgreSQL server's binaries.
    static func findBinaries() throws -> URL {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        for version in versions.reversed() {
            let bin = URL(fileURLWithPath: "\(root)/\(version)/bin")
            if FileManager.default.isExecutableFile(atPath: bin.appendingPathComponent("pg_ctl").path) { return bin }
        }
        throw ExitMessage("no PostgreSQL server is installed (looked in \(root)); run scripts/run.sh, which installs it, or set DATABASE_URL")
    }

    /// A free TCP port on 127.0.0.1.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ExitMessage("cannot open a socket to find a free port") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw ExitMessage("cannot bind a socket to find a free port") }
        let named = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw ExitMessage("cannot read the free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
