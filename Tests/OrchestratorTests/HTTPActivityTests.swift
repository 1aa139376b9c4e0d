import Activities
import AsyncHTTPClient
import Foundation
import NIOCore
import Orchestrator
import Testing

extension OutboundAllowList {
    /// What the tests' HTTP servers need: they listen on 127.0.0.1.
    static let loopback = try! OutboundAllowList(parsing: "127.0.0.1")
}

@Suite struct HTTPActivityTests {
    static let notify = """
        type: notify
        start: call
        retry: {max_attempts: 4, initial_interval: 1s, backoff_coefficient: 2, jitter: none}
        states:
          call:
            task: http
            input: {url: $.input.url, method: POST, headers: {X-Shop: demo}, body: {order: $.input.order}}
            next: done
            catch: [{errors: [http.*], next: rejected}]
          done: {succeed: true, output: $.call}
          rejected: {fail: {error: remote_rejected}}
        """

    func withHTTPHarness(_ responses: [ScriptedHTTPServer.Response], _ body: (TestHarness, ScriptedHTTPServer) async throws -> Void) async throws {
        let server = ScriptedHTTPServer(responses)
        try await server.start()
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(1), read: .seconds(5))
        configuration.redirectConfiguration = .disallow
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        var registry = TestDatabase.registry()
        registry.register(HTTPActivity(client: httpClient, allowList: .loopback))
        do {
            try await TestDatabase.withHarness(workflows: [Self.notify], registry: registry) { harness in
                try await body(harness, server)
            }
        } catch {
            try await httpClient.shutdown()
            await server.stop()
            throw error
        }
        try await httpClient.shutdown()
        await server.stop()
    }

    @Test func retriesOnServerErrorsHonoringRetryAfterWithTheSameIdempotencyKey() async throws {
        try await withHTTPHarness([
            .init(status: 503, headers: [("Retry-After", "7")], body: "busy"),
            .init(status: 500, body: "oops"),
            .init(status: 201, headers: [("Content-Type", "application/json")], body: #"{"queued": true}"#),
        ]) { harness, server in
            let workflow = try await harness.start("notify", input: ["url": .string("\(server.url)/notify"), "order": 17])
            #expect(try await harness.drain() == 1)
            harness.clock.advance(by: .seconds(6))
            #expect(try await harness.drain() == 0)  // Retry-After: 7 beats the 1s backoff
            harness.clock.advance(by: .seconds(1))
            #expect(try await harness.drain() == 1)
            harness.clock.advance(by: .seconds(2))
            #expect(try await harness.drain() == 1)
            let done = try await harness.engine.reads.workflow(workflow.id)
            #expect(done.status == .completed)
            #expect(done.output == ["status": 201, "body": ["queued": true]])
            let requests = server.requests
            #expect(requests.count == 3)
            let keys = Set(requests.compactMap { $0.headers["idempotency-key"] })
            #expect(keys.count == 1)
            #expect(keys.first?.hasPrefix(workflow.id) == true)
            #expect(Set(requests.compactMap { $0.headers["x-correlation-id"] }).count == 1)
            #expect(requests.allSatisfy { $0.method == "POST" && $0.uri == "/notify" && $0.headers["x-shop"] == "demo" })
            #expect(try JSONValue(json: requests[0].body) == ["order": 17])
            let codes = try await harness.engine.reads.history(workflow.id).filter { $0.type == .taskFailed }.map { $0.data?["error"]?["code"] }
            #expect(codes == ["http.503", "http.500"])
        }
    }

    @Test func clientErrorsFailAtOnceWithTheirStatusCode() async throws {
        try await withHTTPHarness([.init(status: 404, body: "no such order")]) { harness, server in
            let workflow = try await harness.start("notify", input: ["url": .string("\(server.url)/x"), "order": 1])
            #expect(try await harness.drain() == 1)
            let failed = try await harness.engine.reads.workflow(workflow.id)
            #expect(failed.error?.code == "remote_rejected")
            #expect(failed.context["call_error"]?["code"] == "http.404")
            #expect(server.requests.count == 1)
        }
    }

    @Test func connectionErrorsAreRetryable() async throws {
        try await withHTTPHarness([]) { harness, _ in
            // Nothing listens on port 9 (discard) on loopback here: the connection is refused.
            let workflow = try await harness.start("notify", input: ["url": "http://127.0.0.1:9/", "order": 1])
            #expect(try await harness.drain() == 1)
            let failures = try await harness.engine.reads.history(workflow.id).filter { $0.type == .taskFailed }
            #expect(failures.first?.data?["error"]?["code"] == "http.unreachable")
            #expect(failures.first?.data?["retry_at"] != nil)
        }
    }
}
