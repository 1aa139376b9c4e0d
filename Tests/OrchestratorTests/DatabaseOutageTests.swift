import Foundation
import NIOHTTP1
import Orchestrator
import Testing

/// The server on its own embedded cluster, which the test stops and starts again.
@Suite struct DatabaseOutageTests {
    @Test func readyzGoesUnreadyWhileTheDatabaseIsDownAndNothingIsLost() async throws {
        try #require(Executable.exists)
        let server = try await APIServerProcess(workflows: [HTTPAPITests.approval, HTTPAPITests.greet], databaseURL: nil)
        do {
            let cluster = server.folder.appendingPathComponent("data/postgres")
            let waiting = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "approval", "input": [:]])
            let id = try #require(waiting.json["id"]?.stringValue)

            let pid = try String(contentsOf: cluster.appendingPathComponent("postmaster.pid"), encoding: .utf8).split(separator: "\n")
            let port = try #require(pid.count > 3 ? String(pid[3]) : nil)
            try Self.pgctl(["-D", cluster.path, "-m", "fast", "-w", "stop"])

            var unready = try await server.request(.GET, "/readyz")
            let deadline = ContinuousClock.now + .seconds(20)
            while unready.status == 200, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
                unready = try await server.request(.GET, "/readyz")
            }
            #expect(unready.status == 503 && unready.code == "ready.database_unreachable")
            let refused = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "greet", "input": [:]])
            #expect(refused.status == 503 && refused.code == "database.unavailable", "\(refused.text)")
            #expect(try await server.request(.GET, "/healthz").status == 200)
            // The scrape still answers, and says the database is away (an alert rule waits for it).
            let scrape = try await server.request(.GET, "/metrics", role: "monitor")
            #expect(scrape.status == 200 && scrape.text.contains("orchestrator_database_up 0"), "\(scrape.status) \(scrape.text.prefix(300))")

            try Self.pgctl([
                "-D", cluster.path, "-l", cluster.appendingPathComponent("server.log").path, "-w",
                "-o", "-c listen_addresses=127.0.0.1 -c port=\(port) -c unix_socket_directories='\(cluster.path)'", "start",
            ])
            try await server.waitUntilReady(timeout: .seconds(30))
            #expect(try await server.request(.GET, "/metrics", role: "monitor").text.contains("orchestrator_database_up 1"))
            let signal = try await server.json(.POST, "/v1/workflows/\(id)/signals/approved", role: "client", ["payload": ["ok": true]])
            #expect(signal.status == 202)
            #expect(try await server.waitForWorkflow(id) { $0["status"] == "completed" }["output"] == ["ok": true])
            let after = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "greet", "input": [:]])
            #expect(after.status == 201)
            _ = try await server.waitForWorkflow(after.json["id"]?.stringValue ?? "") { $0["status"] == "completed" }
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    static func pgctl(_ arguments: [String]) throws {
        try PrivateCluster.run("pg_ctl", arguments)
    }
}
