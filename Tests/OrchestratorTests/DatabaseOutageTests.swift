import Foundation
import NIOHTTP1
import Orchestrator
import Testing

/// The server on its own embedded cluster, which the test stops and starts again.
@Suite struct DatabaseOutageTests {
    @Test func readyzGoesUnreadyWhileTheDatabaseIsDownAndNothingIsLost() async throws {
        try #require(Executable.exists)
        let napping = """
            type: napping
            start: nap
            states:
              nap: {sleep: 1h, next: done}
              done: {succeed: true}
            """
        let server = try await APIServerProcess(workflows: [HTTPAPITests.approval, HTTPAPITests.greet, napping], databaseURL: nil)
        do {
            let waiting = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "approval", "input": [:]])
            let id = try #require(waiting.json["id"]?.stringValue)
            let running = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "napping", "input": [:]])
            let runningID = try #require(running.json["id"]?.stringValue)

            // A caller already waiting when the database goes away is answered 503 soon after its
            // wait ends, not when the pool gives up connecting a minute later.
            let began = ContinuousClock.now
            async let waited = server.request(.GET, "/v1/workflows/\(runningID)?wait=2s", role: "client")
            try await Task.sleep(for: .milliseconds(300))
            let cluster = try await EmbeddedCluster.stop(of: server)
            let answer = try await waited
            #expect(answer.status == 503 && answer.code == "database.unavailable", "\(answer.status) \(answer.text)")
            #expect(ContinuousClock.now - began < .seconds(30), "the waiting caller was held past its wait")

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

            try await cluster.start()
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

    /// A supervisor that gave the server a descriptor (Foundation's `Process` gives one and
    /// learns of the exit when it closes) sees it close when the server dies, though the embedded
    /// cluster the server started lives on.
    @Test func theEmbeddedClusterKeepsNoDescriptorTheServerInherited() async throws {
        try #require(Executable.exists)
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer { close(ends[0]) }
        let server = try await APIServerProcess(workflows: [HTTPAPITests.greet], databaseURL: nil, inheriting: [ends[1]])
        close(ends[1])
        server.process.send(SIGKILL)
        #expect(await server.process.exit(within: .seconds(30)) == .signal(SIGKILL))
        var watched = pollfd(fd: ends[0], events: Int16(POLLIN), revents: 0)
        let ready = poll(&watched, 1, 5_000)
        var byte: UInt8 = 0
        let closed = ready == 1 && read(ends[0], &byte, 1) == 0
        // The cluster outlives a killed server (the next one reuses it): stop it before the folder goes.
        try await Self.pgctl(["-D", server.folder.appendingPathComponent("data/postgres").path, "-m", "immediate", "-w", "stop"])
        await server.stop()
        #expect(closed, "the descriptor the server inherited is still open 5 s after it died")
    }

    /// PostgresNIO's pool gives up after a minute of failed connections (its circuit breaker then
    /// fails every lease at once) and retries ever more rarely: before `DatabasePool` watched it,
    /// the server answered 500 for some 13 s after the database was back and ready said so.
    @Test func aPoolThatGaveUpDuringALongOutageIsReplacedOnceTheDatabaseIsBack() async throws {
        try #require(Executable.exists)
        let server = try await APIServerProcess(workflows: [HTTPAPITests.greet], databaseURL: nil)
        do {
            let before = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "greet", "input": [:]])
            #expect(before.status == 201)
            let cluster = try await EmbeddedCluster.stop(of: server)
            // Past the breaker's minute: the pool's retries come 0.1 s × 1.25ⁿ apart, the one at ~67 s trips it.
            try await Task.sleep(for: .seconds(72))
            try await cluster.start()
            try await server.waitUntilReady(timeout: .seconds(30))

            var started: APIServerProcess.Reply?
            let deadline = ContinuousClock.now + .seconds(15)
            while started == nil, ContinuousClock.now < deadline {
                let reply = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "greet", "input": [:]])
                if reply.status == 201 {
                    started = reply
                } else {
                    // Until the pool serves again, a refusal that says to retry, never an internal error.
                    #expect(reply.status == 503 && reply.code == "database.unavailable", "\(reply.status) \(reply.text)")
                    try await Task.sleep(for: .milliseconds(500))
                }
            }
            let id = try #require(started?.json["id"]?.stringValue, "no start accepted within 15 s of the database being back")
            _ = try await server.waitForWorkflow(id) { $0["status"] == "completed" }
            let scrape = try await server.request(.GET, "/metrics", role: "monitor")
            #expect(scrape.text.contains("orchestrator_database_pool_replacements_total 1"), "\(scrape.text.split(separator: "\n").filter { $0.contains("pool") })")
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    static func pgctl(_ arguments: [String]) async throws {
        try await PrivateCluster.run("pg_ctl", arguments)
    }
}

/// The embedded cluster of a test server, stopped to play an outage and started again as it was.
struct EmbeddedCluster {
    let folder: URL
    let port: String

    static func stop(of server: APIServerProcess) async throws -> EmbeddedCluster {
        let folder = server.folder.appendingPathComponent("data/postgres")
        let pid = try String(contentsOf: folder.appendingPathComponent("postmaster.pid"), encoding: .utf8).split(separator: "\n")
        let port = try #require(pid.count > 3 ? String(pid[3]) : nil)
        try await DatabaseOutageTests.pgctl(["-D", folder.path, "-m", "fast", "-w", "stop"])
        return EmbeddedCluster(folder: folder, port: port)
    }

    func start() async throws {
        try await DatabaseOutageTests.pgctl([
            "-D", folder.path, "-l", folder.appendingPathComponent("server.log").path, "-w",
            "-o", "-c listen_addresses=127.0.0.1 -c port=\(port) -c unix_socket_directories='\(folder.path)'", "start",
        ])
    }
}
