import Foundation
import Orchestrator

/// The `orchestrator` executable of this build, and helpers to run it.
enum Executable {
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    static var url: URL { packageRoot.appendingPathComponent(".build/debug/orchestrator") }

    /// `orchestrator` with the test activities (`Tests/TestServer`).
    static var testServerURL: URL { packageRoot.appendingPathComponent(".build/debug/orchestrator-test-server") }

    static var exists: Bool { FileManager.default.isExecutableFile(atPath: url.path) }

    /// A process of the executable with stdout and stderr captured to files in `folder`.
    static func process(_ arguments: [String], in folder: URL, environment: [String: String] = [:], executable: URL = url) throws -> (Process, output: URL) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        // Not the package root: a developer's ./data or ./workflows.d there must not be found.
        process.currentDirectoryURL = folder
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "DATABASE_URL")
        // The test doubles the `http` activity calls listen on loopback, which is refused unless listed.
        env["ORCHESTRATOR_HTTP_ALLOW"] = "127.0.0.1"
        // A server publishes where it runs for the user's other commands (`ServerDiscovery`): not the tester's.
        env["XDG_STATE_HOME"] = folder.appendingPathComponent("state").path
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let output = folder.appendingPathComponent("output-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        return (process, output)
    }

    /// Runs to completion (bounded); returns the exit status and everything printed.
    static func run(_ arguments: [String], in folder: URL, environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        let (process, output) = try process(arguments, in: folder, environment: environment)
        try process.run()
        let deadline = ContinuousClock.now + .seconds(60)
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return (process.terminationStatus, try String(contentsOf: output, encoding: .utf8))
    }

    static func temporaryFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("orchestrator-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }
}

extension TestHarness {
    /// This harness's database as a URL for a child process.
    var databaseURL: String {
        "postgres://\(database.username)@\(database.host):\(database.port)/\(database.database)"
    }
}
