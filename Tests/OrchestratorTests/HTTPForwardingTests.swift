import Foundation
import NIOHTTP1
import Orchestrator
import Testing

/// The `http` activity fed by client input (no `input:` mapping: the workflow's input is the
/// request), through a running server: it must not become a forwarder into the network.
/// One at a time: each test runs a server process, and a crowd of them starves the timing tests.
@Suite(.serialized) struct HTTPForwardingTests {
    static let forward = """
        type: forward
        start: call
        retry: {max_attempts: 1}
        states:
          call: {task: http, timeout: 10s, next: done, catch: [{errors: ["*"], next: refused}]}
          done: {succeed: true, output: $.call}
          refused: {fail: {error: refused}}
        """

    /// Starts a `forward` with `input` and returns the error code of its call, or "completed".
    static func outcome(_ server: APIServerProcess, _ input: JSONValue) async throws -> (code: String, message: String) {
        let started = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "forward", "input": input])
        let id = try #require(started.json["id"]?.stringValue, "\(started.text)")
        let ended = try await server.waitForWorkflow(id) { ["completed", "failed"].contains($0["status"]?.stringValue) }
        if ended["status"] == "completed" { return ("completed", "") }
        return (ended["context"]?["call_error"]?["code"]?.stringValue ?? "?", ended["context"]?["call_error"]?["message"]?.stringValue ?? "")
    }

    static func withTarget(
        _ responses: [ScriptedHTTPServer.Response] = [.init(status: 200, body: "{}")], environment: [String: String] = [:],
        _ body: (APIServerProcess, ScriptedHTTPServer) async throws -> Void
    ) async throws {
        let target = ScriptedHTTPServer(responses)
        try await target.start()
        defer { Task { await target.stop() } }
        try await TestDatabase.withServer(workflows: [Self.forward], environment: environment) { server, _ in
            try await body(server, target)
        }
    }

    @Test func methodsOutsideTheStandardSetAreRefusedAndNothingIsSent() async throws {
        try await Self.withTarget { server, target in
            for method in ["GET /x HTTP/1.1\r\nX-Evil: 1\r\n\r\nGET", "TRACE", "CONNECT", "get x"] {
                let outcome = try await Self.outcome(server, ["url": .string("\(target.url)/x"), "method": .string(method)])
                #expect(outcome.code == "http.invalid_method", "\(method)")
            }
            #expect(target.requests.isEmpty)
            let patch = try await Self.outcome(server, ["url": .string("\(target.url)/x"), "method": "patch"])
            #expect(patch.code == "completed")
            #expect(target.requests.map(\.method) == ["PATCH"])
        }
    }

    @Test func hostFramingAndHopByHopHeadersCannotBeSet() async throws {
        try await Self.withTarget { server, target in
            for name in ["Host", "Transfer-Encoding", "Content-Length", "Connection", "Upgrade", "Proxy-Authorization", "X-A\r\nX-B"] {
                let outcome = try await Self.outcome(server, ["url": .string("\(target.url)/x"), "headers": [name: "1"]])
                #expect(outcome.code == "http.invalid_header", "\(name)")
            }
            let splitValue = try await Self.outcome(server, ["url": .string("\(target.url)/x"), "headers": ["X-A": "1\r\nX-Evil: 2"]])
            #expect(splitValue.code == "http.invalid_header")
            #expect(target.requests.isEmpty)
            let allowed = try await Self.outcome(server, ["url": .string("\(target.url)/x"), "headers": ["Authorization": "Bearer t", "X-Shop": "demo"]])
            #expect(allowed.code == "completed")
            #expect(target.requests.first?.headers["authorization"] == "Bearer t")
            #expect(target.requests.first?.headers["host"] == "127.0.0.1:\(target.port)")
        }
    }

    @Test func redirectsAreFollowedOnlyWhenAskedAndEachHopIsChecked() async throws {
        try await Self.withTarget([
            .init(status: 302, headers: [("Location", "/moved")]),
            .init(status: 302, headers: [("Location", "/moved")]),
            .init(status: 200, body: #"{"moved": true}"#),
            .init(status: 307, headers: [("Location", "http://10.255.255.1/internal")]),
        ]) { server, target in
            let unasked = try await Self.outcome(server, ["url": .string("\(target.url)/start")])
            #expect(unasked.code == "http.302" && unasked.message.contains("follow_redirects"))
            #expect(target.requests.map(\.uri) == ["/start"])

            let followed = try await Self.outcome(server, ["url": .string("\(target.url)/start"), "follow_redirects": true])
            #expect(followed.code == "completed")
            #expect(target.requests.map(\.uri) == ["/start", "/start", "/moved"])

            let intoThePrivateNetwork = try await Self.outcome(server, ["url": .string("\(target.url)/again"), "follow_redirects": true])
            #expect(intoThePrivateNetwork.code == "http.forbidden_host")
        }
    }

    @Test func privateAndLoopbackAddressesAreRefusedUnlessListed() async throws {
        try await Self.withTarget(environment: ["ORCHESTRATOR_HTTP_ALLOW": ""]) { server, target in
            for url in ["\(target.url)/x", "http://localhost:\(target.port)/x", "http://[::1]:\(target.port)/x", "http://[::ffff:127.0.0.1]:\(target.port)/x",
                        "http://10.0.0.1/x", "http://169.254.169.254/latest/meta-data", "http://0.0.0.0:\(target.port)/x"] {
                let outcome = try await Self.outcome(server, ["url": .string(url)])
                #expect(outcome.code == "http.forbidden_host", "\(url): \(outcome)")
            }
            #expect(target.requests.isEmpty)
        }
        try await Self.withTarget(environment: ["ORCHESTRATOR_HTTP_ALLOW": "api.example.com, 127.0.0.1"]) { server, target in
            // Names listed: a URL may name only those, whatever the address.
            let unnamed = try await Self.outcome(server, ["url": .string("http://localhost:\(target.port)/x")])
            #expect(unnamed.code == "http.forbidden_host")
            #expect(target.requests.isEmpty)
        }
    }

    @Test func aClosedPortAndADeadHostReadTheSame() async throws {
        try await Self.withTarget { server, _ in
            let closed = try await Self.outcome(server, ["url": .string("http://127.0.0.1:\(APIServerProcess.freePort())/x")])
            #expect(closed.code == "http.unreachable")
            #expect(closed.message.hasPrefix("could not reach 127.0.0.1:"))
            #expect(!closed.message.lowercased().contains("refused"))
        }
    }
}
