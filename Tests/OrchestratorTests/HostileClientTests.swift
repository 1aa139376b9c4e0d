import Foundation
import NIOHTTP1
import Orchestrator
import PostgresNIO
import Testing

/// What one client with a key can do to everyone else, tried against a running server: nothing it
/// sends may make the engine store what it cannot read back, answer 500, or buy unbounded work.
/// One at a time: each test runs a server process, and a crowd of them starves the timing tests.
@Suite(.serialized) struct HostileClientTests {
    static let echo = """
        type: echo
        start: hello
        states:
          hello: {task: noop, next: wait}
          wait: {wait_for: go, next: done}
          done: {succeed: true, output: $.input}
        """
    /// Waits for `go`, then for one of `a`…`d`: those sent before `go` are buffered.
    static let twoWaits = """
        type: two_waits
        start: first
        states:
          first: {wait_for: go, next: second}
          second: {wait_for: [a, b, c, d], next: done}
          done: {succeed: true}
        """
    /// Each turn wraps its last result three levels deeper, for ever.
    static let deepen = """
        type: deepen
        start: seed
        states:
          seed: {pass: $.input, result: $.wrap, next: grow}
          grow: {task: noop, input: {a: {b: {c: $.wrap}}}, result: $.wrap, next: again}
          again:
            choice:
              - {path: $.input.stop, equals: true, next: done}
            default: grow
          done: {succeed: true}
        """
    static let fan = """
        type: fan
        start: each
        states:
          each: {map: {items: $.input.items, task: noop}, next: make}
          make: {task: noop, input: {list: $.input.later}, next: again}
          again: {map: {items: $.make.list, task: noop}, next: done}
          done: {succeed: true}
        """

    static func nested(_ depth: Int) -> JSONValue {
        (1..<depth).reduce(JSONValue.object(["leaf": 1])) { inner, _ in ["n": inner] }
    }

    /// Sends `request` on a new connection; what came back within a few seconds, and whether the server closed it.
    static func raw(_ server: APIServerProcess, _ request: String) -> (text: String, closed: Bool) {
        guard let connection = try? RawConnection(port: server.port) else { return ("connection refused", true) }
        connection.send(request)
        return connection.receive(for: .seconds(3))
    }

    @Test func deeplyNestedInputsAndPayloadsAreRefusedBeforeTheyAreStored() async throws {
        try await TestDatabase.withServer(workflows: [Self.echo]) { server, _ in
            let poisoned = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "echo", "input": Self.nested(510)])
            #expect(poisoned.status == 422 && poisoned.code == "workflow.input_too_deep")
            let deepest = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "echo", "input": Self.nested(StoredValueLimits.inputDepth)])
            #expect(deepest.status == 201)
            let id = try #require(deepest.json["id"]?.stringValue)
            _ = try await server.waitForWorkflow(id) { $0["status"] == "waiting" }
            let deepSignal = try await server.json(.POST, "/v1/workflows/\(id)/signals/go", role: "client", ["payload": Self.nested(100)])
            #expect(deepSignal.status == 422 && deepSignal.code == "workflow.input_too_deep")
            #expect(try await server.request(.GET, "/v1/workflows", role: "client").status == 200)
            let cancelled = try await server.json(.POST, "/v1/workflows/\(id)/cancel", role: "ops", [:])
            #expect(cancelled.status == 200 && cancelled.json["status"] == "cancelled")
        }
    }

    @Test func resultsThatWouldNestTheContextTooDeepFailTheWorkflowWhichStaysReadable() async throws {
        try await TestDatabase.withServer(workflows: [Self.deepen]) { server, _ in
            let started = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "deepen", "input": Self.nested(60)])
            let id = try #require(started.json["id"]?.stringValue)
            let failed = try await server.waitForWorkflow(id, timeout: .seconds(60)) { $0["status"] == "failed" }
            #expect(failed["error"]?["code"] == "workflow.context_too_deep")
            #expect(try await server.request(.GET, "/v1/workflows/\(id)/history", role: "client").status == 200)
            let list = try await server.request(.GET, "/v1/workflows", role: "client")
            #expect(list.status == 200 && list.json["items"]?.arrayValue?.count == 1)
        }
    }

    @Test func idsKeysAndSignalNamesAreMeasuredInUTF8Bytes() async throws {
        try await TestDatabase.withServer(workflows: [Self.echo]) { server, _ in
            // 1 grapheme, 4,001 bytes: a grapheme count let it through to the index, which refused it.
            let marks = "a" + String(repeating: "\u{301}", count: 2_000)
            let longID = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "echo", "id": .string(marks)])
            #expect(longID.status == 422 && longID.code == "workflow.invalid_input")
            let controlID = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "echo", "id": "a\u{7}b"])
            #expect(controlID.status == 422 && controlID.code == "workflow.invalid_input")

            let body = #"{"type":"echo"}"#
            let longKey = Self.raw(server, """
                POST /v1/workflows HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(APIServerProcess.secret("client"))\r\n\
                Idempotency-Key: a\(String(repeating: "\u{301}", count: 150))\r\n\
                Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)
                """)
            #expect(longKey.text.hasPrefix("HTTP/1.1 400") && longKey.text.contains("request.invalid_idempotency_key"), "\(longKey.text)")

            let started = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "echo"])
            let id = try #require(started.json["id"]?.stringValue)
            let encodedName = "a" + String(repeating: "%CC%81", count: 2_000)
            let longName = try await server.json(.POST, "/v1/workflows/\(id)/signals/\(encodedName)", role: "client", [:])
            #expect(longName.status == 422 && longName.code == "workflow.invalid_input")
            #expect(!server.log.contains("error"))
        }
    }

    @Test func idsHoldingSlashesSpacesOrUnicodeAreReachableByTheirEncodedPath() async throws {
        try await TestDatabase.withServer(workflows: [Self.echo]) { server, _ in
            let started = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "echo", "id": "order 7/é"])
            #expect(started.status == 201)
            let location = try #require(started.headers.first(name: "Location"))
            #expect(location == "/v1/workflows/order%207%2F%C3%A9")
            let read = try await server.request(.GET, location, role: "client")
            #expect(read.status == 200 && read.json["id"] == "order 7/é")
            _ = try await server.waitForWorkflow("order%207%2F%C3%A9") { $0["status"] == "waiting" }
            let signal = try await server.json(.POST, "\(location)/signals/go", role: "client", [:])
            #expect(signal.status == 202 && signal.json["delivery"] == "consumed")
            #expect(try await server.request(.GET, "\(location)/history", role: "client").status == 200)

            for broken in ["%ZZ", "%FF"] {  // not hex; not UTF-8
                let reply = Self.raw(server, "GET /v1/workflows/\(broken) HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(APIServerProcess.secret("client"))\r\n\r\n")
                #expect(reply.text.hasPrefix("HTTP/1.1 400") && reply.text.contains("request.invalid_path"), "\(broken): \(reply.text)")
            }
        }
    }

    @Test func aCursorHoldingNULIsABadRequest() async throws {
        try await TestDatabase.withServer(workflows: [Self.echo]) { server, _ in
            // base64url of "\0abc"
            let reply = try await server.request(.GET, "/v1/workflows?cursor=AGFiYw", role: "client")
            #expect(reply.status == 400 && reply.code == "request.invalid_cursor")
        }
    }

    /// PostgreSQL cannot store NUL: a body holding it, in a value or a key however deep, is refused
    /// with a clear error and starts nothing.
    @Test func aBodyHoldingNULIsRefusedAndStartsNothing() async throws {
        try await TestDatabase.withServer(workflows: [Self.echo]) { server, _ in
            for body in [#"{"type":"echo","input":{"a":["x\u0000y"]}}"#, #"{"type":"echo","input":{"k\u0000":1}}"#] {
                let reply = try await server.request(.POST, "/v1/workflows", role: "client", body: body)
                #expect(reply.status == 422 && reply.code == "request.invalid", "\(body): \(reply.status)")
            }
            let listed = try await server.request(.GET, "/v1/workflows", role: "client")
            #expect(listed.json["items"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test func brokenChunkFramingIsABadRequestAndClosesTheConnection() async throws {
        try await TestDatabase.withServer(workflows: [Self.echo]) { server, _ in
            for size in ["zz", "-1"] {
                let reply = Self.raw(server, """
                    POST /v1/workflows HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(APIServerProcess.secret("client"))\r\n\
                    Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\(size)\r\n{}\r\n0\r\n\r\n
                    """)
                #expect(reply.text.hasPrefix("HTTP/1.1 400"), "\(size): \(reply.text)")
                #expect(reply.text.contains("request.malformed_http") && reply.closed, "\(size)")
            }
            #expect(!server.log.contains("error"))
        }
    }

    @Test func aClientHangingUpMidBodyIsNeitherLoggedAsAnErrorNorCountedAs500() async throws {
        try await TestDatabase.withServer(workflows: [Self.echo]) { server, _ in
            for _ in 0..<3 {
                let connection = try RawConnection(port: server.port)
                connection.send(
                    "POST /v1/workflows HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(APIServerProcess.secret("client"))\r\n"
                        + "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"type\":")
            }  // each connection closes here, 92 bytes short
            try await Task.sleep(for: .milliseconds(500))
            let metrics = try await server.request(.GET, "/metrics", role: "monitor").text
            #expect(!metrics.contains(#"status="500""#))
            #expect(metrics.contains(#"status="499""#))
            #expect(!server.log.contains("error"))
        }
    }

    @Test func theInputIsStoredAndReturnedOnce() async throws {
        try await TestDatabase.withServer(workflows: [Self.echo]) { server, harness in
            let started = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "echo", "input": ["order_id": "o-1"]])
            let id = try #require(started.json["id"]?.stringValue)
            let waiting = try await server.waitForWorkflow(id) { $0["status"] == "waiting" }
            #expect(waiting["input"] == ["order_id": "o-1"])
            #expect(waiting["context"]?["input"] == nil)
            #expect(try await harness.query("SELECT count(*) FROM orchestrator.workflows WHERE context ? 'input'", as: Int64.self) == [0])
            _ = try await server.json(.POST, "/v1/workflows/\(id)/signals/go", role: "client", [:])
            let done = try await server.waitForWorkflow(id) { $0["status"] == "completed" }
            #expect(done["output"] == ["order_id": "o-1"])  // states still read $.input
        }
    }

    @Test func aFanOutOverMoreItemsThanTheLimitIsRefused() async throws {
        try await TestDatabase.withServer(workflows: [Self.fan], arguments: ["--max-map-items", "5"]) { server, _ in
            let six: JSONValue = .array((1...6).map { .number(Double($0)) })
            let five: JSONValue = .array((1...5).map { .number(Double($0)) })
            let refused = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "fan", "input": ["items": six, "later": five]])
            #expect(refused.status == 422 && refused.code == "workflow.too_many_items")
            #expect(refused.json["detail"]?.stringValue?.contains("ORCHESTRATOR_MAX_MAP_ITEMS") == true)
            // A list a state builds is checked when the map state is entered.
            let started = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "fan", "input": ["items": five, "later": six]])
            #expect(started.status == 201)
            let failed = try await server.waitForWorkflow(try #require(started.json["id"]?.stringValue)) { $0["status"] == "failed" }
            #expect(failed["error"]?["code"] == "workflow.too_many_items")
            let fine = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "fan", "input": ["items": five, "later": five]])
            _ = try await server.waitForWorkflow(try #require(fine.json["id"]?.stringValue)) { $0["status"] == "completed" }
        }
    }

    @Test func signalsBufferedOnOneWorkflowAreCapped() async throws {
        try await TestDatabase.withServer(workflows: [Self.twoWaits], arguments: ["--max-buffered-signals", "3"]) { server, _ in
            let started = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "two_waits"])
            let id = try #require(started.json["id"]?.stringValue)
            _ = try await server.waitForWorkflow(id) { $0["status"] == "waiting" }
            for name in ["a", "b", "c"] {
                let buffered = try await server.json(.POST, "/v1/workflows/\(id)/signals/\(name)", role: "client", [:], headers: [("Idempotency-Key", name)])
                #expect(buffered.status == 202 && buffered.json["delivery"] == "buffered")
            }
            let full = try await server.json(.POST, "/v1/workflows/\(id)/signals/d", role: "client", [:])
            #expect(full.status == 409 && full.code == "signal.buffer_full")
            // A client retrying a signal that was buffered gets its answer again, full or not.
            let retried = try await server.json(.POST, "/v1/workflows/\(id)/signals/c", role: "client", [:], headers: [("Idempotency-Key", "c")])
            #expect(retried.status == 202 && retried.json["delivery"] == "duplicate", "\(retried.text)")
            // The signal it waits for is consumed at once, never buffered: it still gets through.
            let go = try await server.json(.POST, "/v1/workflows/\(id)/signals/go", role: "client", [:])
            #expect(go.status == 202 && go.json["delivery"] == "consumed")
            // The next wait takes the oldest buffered one.
            let done = try await server.waitForWorkflow(id) { $0["status"] == "completed" }
            #expect(done["context"]?["second"] == ["signal": "a", "payload": [:]])
        }
    }

    @Test func idleSlowAndBodilessConnectionsAreClosed() async throws {
        try await TestDatabase.withServer(workflows: [Self.echo], arguments: ["--http-idle-timeout", "1s", "--http-body-timeout", "1s"]) { server, _ in
            let idle = try RawConnection(port: server.port)
            #expect(idle.receive(for: .seconds(10)).closed)

            let slowHead = try RawConnection(port: server.port)
            var closed = false
            for byte in "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8 where !closed {
                slowHead.send([byte])
                closed = slowHead.receive(for: .milliseconds(300)).closed
            }
            #expect(closed)

            let slowBody = try RawConnection(port: server.port)
            slowBody.send("POST /v1/workflows HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(APIServerProcess.secret("client"))\r\nContent-Length: 100\r\n\r\n{")
            closed = false
            for _ in 0..<30 where !closed {
                slowBody.send(" ")
                closed = slowBody.receive(for: .milliseconds(300)).closed
            }
            #expect(closed)
        }
    }

    @Test func aRefusedBodyClosesTheConnectionSoItsRestIsNeverReadAsARequest() async throws {
        try await TestDatabase.withServer(workflows: [Self.echo], arguments: ["--body-limit", "1000"]) { server, _ in
            let smuggled = "GET /v1/workflows HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(APIServerProcess.secret("client"))\r\n\r\n"
            let declared = Self.raw(server, """
                POST /v1/workflows HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(APIServerProcess.secret("client"))\r\n\
                Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n\(smuggled)
                """)
            #expect(declared.text.hasPrefix("HTTP/1.1 413") && declared.closed, "\(declared.text)")
            #expect(declared.text.components(separatedBy: "HTTP/1.1 ").count == 2)  // one answer, not two

            let chunk = String(repeating: "x", count: 1_500)
            let chunked = Self.raw(server, """
                POST /v1/workflows HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(APIServerProcess.secret("client"))\r\n\
                Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5dc\r\n\(chunk)\r\n0\r\n\r\n\(smuggled)
                """)
            #expect(chunked.text.hasPrefix("HTTP/1.1 413") && chunked.closed, "\(chunked.text)")
            #expect(chunked.text.components(separatedBy: "HTTP/1.1 ").count == 2)
        }
    }

    @Test func connectionsBeyondTheCapWaitUntilOneCloses() async throws {
        try await TestDatabase.withServer(workflows: [Self.echo], arguments: ["--max-connections", "2"]) { server, _ in
            // The test's own HTTP client may hold a pooled connection: close it with the first two.
            var held = [try RawConnection(port: server.port), try RawConnection(port: server.port)]
            try await Task.sleep(for: .milliseconds(300))
            let waiting = try RawConnection(port: server.port)
            waiting.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(waiting.receive(for: .seconds(1)).text.isEmpty)
            held.removeAll()  // closes them
            #expect(waiting.receive(for: .seconds(5)).text.hasPrefix("HTTP/1.1 200"))
        }
    }

    @Test func aListPageStaysWithinItsByteBudgetAndItsCursorStillReachesEveryWorkflow() async throws {
        try await TestDatabase.withServer(workflows: [Self.echo]) { server, _ in
            let blob = String(repeating: "x", count: 900_000)
            var started: Set<String> = []
            for n in 0..<6 {
                let reply = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "echo", "input": ["blob": .string(blob), "n": .number(Double(n))]])
                started.insert(try #require(reply.json["id"]?.stringValue))
            }
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await server.request(.GET, "/v1/workflows?limit=50" + (cursor.map { "&cursor=\($0)" } ?? ""), role: "client")
                #expect(page.status == 200 && page.text.utf8.count <= 4 << 20 + 4_096)
                let items = page.json["items"]?.arrayValue ?? []
                #expect(!items.isEmpty && items.count < 6)
                seen += items.compactMap { $0["id"]?.stringValue }
                cursor = page.json["next_cursor"]?.stringValue
            } while cursor != nil
            #expect(seen.count == 6 && Set(seen) == started)
        }
    }

    @Test func aKeyOverItsBudgetGets429WithRetryAfterWhileOtherKeysAndClassesGoOn() async throws {
        try await TestDatabase.withServer(workflows: [Self.echo], arguments: ["--rate-limits", "start=0.01/s:2"]) { server, _ in
            for _ in 0..<2 {
                #expect(try await server.json(.POST, "/v1/workflows", role: "client", ["type": "echo"]).status == 201)
            }
            let refused = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "echo"])
            #expect(refused.status == 429 && refused.code == "request.rate_limited")
            #expect(Int(refused.headers.first(name: "Retry-After") ?? "") ?? 0 >= 1)
            #expect(try await server.request(.GET, "/v1/workflows", role: "client").status == 200)  // reads have their own budget
            #expect(try await server.json(.POST, "/v1/workflows", role: "ops", ["type": "echo"]).status == 201)  // so has each key
            let metrics = try await server.request(.GET, "/metrics", role: "monitor").text
            #expect(metrics.contains(#"orchestrator_http_rate_limited_total{key="shop-backend",class="start"} 1"#), "\(metrics)")
        }
    }

    @Test func everyAnswerCarriesTheSecurityHeaders() async throws {
        try await TestDatabase.withServer(workflows: [Self.echo]) { server, _ in
            let answers = [
                try await server.request(.GET, "/healthz"),
                try await server.request(.GET, "/v1/workflows", role: "client"),
                try await server.request(.GET, "/v1/workflows/nope", role: "client"),
                try await server.request(.GET, "/no/such/route"),
                try await server.request(.GET, "/v1/workflows"),
            ]
            for answer in answers {
                #expect(answer.headers.first(name: "X-Content-Type-Options") == "nosniff")
                #expect(answer.headers.first(name: "Cache-Control") == "no-store")
                #expect(answer.headers.first(name: "Referrer-Policy") == "no-referrer")
                #expect(answer.headers.first(name: "X-Frame-Options") == "DENY")
            }
        }
    }
}
