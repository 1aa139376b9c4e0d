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

    /// Starts the executable in `folder` with stdout and stderr going to a file there (and
    /// `inheriting` as its descriptors 3, 4, …).
    static func spawn(
        _ arguments: [String], in folder: URL, environment: [String: String] = [:], executable: URL = url, inheriting: [Int32] = []
    ) throws -> (ChildProcess, output: URL) {
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "DATABASE_URL")
        // The test doubles the `http` activity calls listen on loopback, which is refused unless listed.
        env["ORCHESTRATOR_HTTP_ALLOW"] = "127.0.0.1"
        // A server publishes where it runs for the user's other commands (`ServerDiscovery`): not the tester's.
        env["XDG_STATE_HOME"] = folder.appendingPathComponent("state").path
        for (key, value) in environment { env[key] = value }
        let output = folder.appendingPathComponent("output-\(UUID().uuidString).log")
        // Not the package root: a developer's ./data or ./workflows.d there must not be found.
        let process = try ChildProcess(executable.path, arguments, environment: env, directory: folder, output: output, inheriting: inheriting)
        return (process, output)
    }

    /// Runs to completion (killed after 60 s); returns the exit status (128 + the signal if one
    /// ended it) and everything printed.
    static func run(_ arguments: [String], in folder: URL, environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        let (process, output) = try spawn(arguments, in: folder, environment: environment)
        var exit = await process.exit(within: .seconds(60))
        if exit == nil {
            await process.stop(grace: .seconds(5))
            exit = process.exit
        }
        let status: Int32 = switch exit {
        case .status(let code): code
        case .signal(let signal): 128 + signal
        case nil: -1
        }
        return (status, (try? String(contentsOf: output, encoding: .utf8)) ?? "")
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
