import Foundation
import NIOHTTP1
import Orchestrator
import PostgresNIO
import Testing

/// The HTTP API end to end: the real server process, a real PostgreSQL, requests over loopback.
@Suite struct HTTPAPITests {
    static let greet = """
        type: greet
        start: hello
        states:
          hello: {task: noop, next: done}
          done: {succeed: true, output: $.hello}
        """
    static let approval = """
        type: approval
        start: wait
        states:
          wait: {wait_for: approved, next: done}
          done: {succeed: true, output: $.wait}
        """
    static let remote = """
        type: remote
        start: call
        retry: {max_attempts: 1}
        states:
          call: {task: http, input: {url: $.input.url}, timeout: 5s, next: done}
          done: {succeed: true}
        """

    @Test func idempotencyMatrix() async throws {
        try await TestDatabase.withServer(workflows: [Self.greet]) { server, _ in
            let body: JSONValue = ["type": "greet", "input": ["n": 1]]
            let plainA = try await server.json(.POST, "/v1/workflows", role: "client", body)
            let plainB = try await server.json(.POST, "/v1/workflows", role: "client", body)
            #expect(plainA.status == 201 && plainB.status == 201)
            #expect(plainA.json["id"] != plainB.json["id"])

            let first = try await server.json(.POST, "/v1/workflows", role: "client", body, headers: [("Idempotency-Key", "order-1")])
            let replay = try await server.json(.POST, "/v1/workflows", role: "client", body, headers: [("Idempotency-Key", "order-1")])
            let other = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "greet", "input": ["n": 2]], headers: [("Idempotency-Key", "order-1")])
            #expect(first.status == 201)
            #expect(replay.status == 200)
            #expect(replay.json["id"] == first.json["id"])
            #expect(first.headers.first(name: "Location") == "/v1/workflows/\(first.json["id"]?.stringValue ?? "")")
            #expect(other.status == 409 && other.code == "idempotency.key_reused")

            let named = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "greet", "input": [:], "id": "order-77"])
            let namedAgain = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "greet", "input": [:], "id": "order-77"])
            let namedOther = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "greet", "input": ["x": 1], "id": "order-77"])
            #expect(named.status == 201 && named.json["id"] == "order-77")
            #expect(namedAgain.status == 200)
            #expect(namedOther.status == 409 && namedOther.code == "workflow.id_conflict")

            // Signals deduplicate by Idempotency-Key too.
            let waiting = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "greet", "input": [:]])
            let id = waiting.json["id"]?.stringValue ?? ""
            _ = try await server.waitForWorkflow(id) { $0["status"] == "completed" }
        }
    }

    @Test func signalsAndCancelOverHTTP() async throws {
        try await TestDatabase.withServer(workflows: [Self.approval]) { server, _ in
            let started = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "approval", "input": [:]])
            let id = try #require(started.json["id"]?.stringValue)
            #expect(started.json["status"] == "waiting")
            let signal = try await server.json(.POST, "/v1/workflows/\(id)/signals/approved", role: "client", ["payload": ["by": "ops"]], headers: [("Idempotency-Key", "s-1")])
            let again = try await server.json(.POST, "/v1/workflows/\(id)/signals/approved", role: "client", ["payload": ["by": "ops"]], headers: [("Idempotency-Key", "s-1")])
            #expect(signal.status == 202 && signal.json["delivery"] == "consumed")
            #expect(again.status == 202 && again.json["delivery"] == "duplicate")
            let late = try await server.json(.POST, "/v1/workflows/\(id)/signals/approved", role: "client", ["payload": [:]], headers: [("Idempotency-Key", "s-2")])
            #expect(late.status == 409 && late.code == "workflow.not_active")
            let done = try await server.request(.GET, "/v1/workflows/\(id)", role: "client")
            #expect(done.json["status"] == "completed")
            #expect(done.json["output"] == ["by": "ops"])
            let history = try await server.request(.GET, "/v1/workflows/\(id)/history", role: "client")
            let types = history.json["items"]?.arrayValue?.compactMap { $0["type"]?.stringValue } ?? []
            #expect(types.first == "workflow_started" && types.last == "workflow_completed")
            #expect(types.contains("signal_received"))
            #expect(history.json["next_cursor"] == .null)
            // A page at a time: following next_cursor reads the same events, in order.
            var paged: [String] = []
            var path = "/v1/workflows/\(id)/history?limit=2"
            while true {
                let page = try await server.request(.GET, path, role: "client")
                let items = page.json["items"]?.arrayValue ?? []
                #expect(page.status == 200 && items.count <= 2)
                paged += items.compactMap { $0["type"]?.stringValue }
                guard let cursor = page.json["next_cursor"]?.stringValue else { break }
                path = "/v1/workflows/\(id)/history?limit=2&cursor=\(cursor)"
            }
            #expect(paged == types)
            #expect(try await server.request(.GET, "/v1/workflows/\(id)/history?limit=1001", role: "client").code == "request.invalid_limit")
            #expect(try await server.request(.GET, "/v1/workflows/\(id)/history?cursor=bm9wZQ", role: "client").code == "request.invalid_cursor")

            let other = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "approval", "input": [:]])
            let otherID = try #require(other.json["id"]?.stringValue)
            let cancelled = try await server.json(.POST, "/v1/workflows/\(otherID)/cancel", role: "client", ["reason": "customer left"])
            #expect(cancelled.status == 200 && cancelled.json["status"] == "cancelled")
        }
    }

    @Test func aWaitingWorkflowSaysWhatItWaitsForAndAMisspelledSignalIsRefused() async throws {
        let expiring = """
            type: expiring
            start: wait
            states:
              wait: {wait_for: [approve, reject], timeout: 1h, on_timeout: done, next: done}
              done: {succeed: true}
            """
        try await TestDatabase.withServer(workflows: [Self.approval, expiring]) { server, _ in
            let started = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "approval", "input": [:]])
            let id = try #require(started.json["id"]?.stringValue)
            #expect(started.json["waiting"] == ["for": "signal", "signals": ["approved"], "until": .null])
            let read = try await server.request(.GET, "/v1/workflows/\(id)", role: "client")
            #expect(read.json["waiting"] == ["for": "signal", "signals": ["approved"], "until": .null])

            // A name no wait_for declares would wait in the buffer for ever: refused, with the names that work.
            let typo = try await server.json(.POST, "/v1/workflows/\(id)/signals/aproved", role: "client", ["payload": [:]])
            #expect(typo.status == 422 && typo.code == "signal.unknown", "\(typo.text)")
            #expect(typo.json["detail"]?.stringValue?.contains("it accepts 'approved'") == true, "\(typo.text)")
            // The data outside `payload`: the error says where it goes.
            let misplaced = try await server.json(.POST, "/v1/workflows/\(id)/signals/approved", role: "client", ["carrier": "ups"])
            #expect(misplaced.status == 422 && misplaced.json["detail"]?.stringValue?.contains("goes under payload") == true, "\(misplaced.text)")
            #expect(try await server.request(.GET, "/v1/workflows/\(id)", role: "client").json["status"] == "waiting")

            let timed = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "expiring", "input": [:]])
            let waiting = try #require(timed.json["waiting"])
            #expect(waiting["for"] == "signal" && waiting["signals"] == ["approve", "reject"])
            let time = ISO8601DateFormatter()
            time.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let until = try #require(waiting["until"]?.stringValue.flatMap(time.date(from:)))
            let created = try #require(timed.json["created_at"]?.stringValue.flatMap(time.date(from:)))
            #expect(abs(until.timeIntervalSince(created) - 3600) < 1)
            let listed = try await server.request(.GET, "/v1/workflows?type=expiring", role: "client")
            #expect(listed.json["items"]?.arrayValue?.first?["waiting"] == waiting)
        }
    }

    @Test func errorsNameWhatWouldHaveWorked() async throws {
        try await TestDatabase.withServer(workflows: [Self.greet, Self.approval]) { server, _ in
            let forbidden = try await server.json(.POST, "/v1/workflows", role: "monitor", ["type": "greet", "input": [:]])
            #expect(forbidden.status == 403 && forbidden.json["detail"] == "a monitor key may not do this: it needs a client or ops key")
            let unknown = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "gret", "input": [:]])
            #expect(unknown.status == 422 && unknown.json["detail"] == "no workflow type 'gret' is defined; the types are approval, greet")
            let extra = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "greet", "inputs": [:]])
            #expect(extra.json["detail"] == "unknown field 'inputs': this body takes 'id', 'input', 'type'")

            // Ids are strings everywhere, history events included.
            let started = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "greet", "input": [:]])
            let id = try #require(started.json["id"]?.stringValue)
            _ = try await server.waitForWorkflow(id) { $0["status"] == "completed" }
            let events = try await server.request(.GET, "/v1/workflows/\(id)/history", role: "client").json["items"]?.arrayValue ?? []
            let taskIDs = events.compactMap { $0["data"]?["task_id"] }
            #expect(!taskIDs.isEmpty && taskIDs.allSatisfy { $0.stringValue != nil }, "\(taskIDs)")
            let dashboard = try await server.request(.GET, "/v1/dashboard", role: "monitor")
            #expect(dashboard.json["throughput"]?["workflows_ended_last_hour"] == 1)
            // One line per request at info: route template, status, duration, correlation id; no key.
            let requestLine = try #require(server.log.split(separator: "\n").first { $0.contains("http.route=/v1/workflows/{id}/history") })
            #expect(requestLine.contains("http.method=GET") && requestLine.contains("http.status=200") && requestLine.contains("duration_ms=")
                && requestLine.contains("correlation_id=") && !requestLine.contains(id), "\(requestLine)")
            #expect(!server.log.contains(APIServerProcess.secret("client")))
        }
    }

    @Test func authMatrixCoversEveryRoute() async throws {
        try await TestDatabase.withServer(workflows: [Self.greet]) { server, _ in
            let routes: [(HTTPMethod, String, String?, Set<String>)] = [
                (.POST, "/v1/workflows", #"{"type":"greet","input":{}}"#, ["client", "ops"]),
                (.GET, "/v1/workflows", nil, ["client", "ops"]),
                (.GET, "/v1/workflows/nope", nil, ["client", "ops"]),
                (.GET, "/v1/workflows/nope/history", nil, ["client", "ops"]),
                (.POST, "/v1/workflows/nope/signals/go", "{}", ["client", "ops"]),
                (.POST, "/v1/workflows/nope/cancel", "{}", ["client", "ops"]),
                (.GET, "/v1/dead-letters", nil, ["ops"]),
                (.GET, "/v1/dead-letters/1", nil, ["ops"]),
                (.POST, "/v1/dead-letters/1/retry", nil, ["ops"]),
                (.POST, "/v1/dead-letters/1/discard", nil, ["ops"]),
                (.GET, "/v1/dashboard", nil, ["monitor", "ops"]),
                (.GET, "/v1/tasks/1/delay", nil, ["monitor", "ops"]),
                (.GET, "/v1/dead-letters/groups", nil, ["ops"]),
                (.POST, "/v1/dead-letters/retry", #"{"filter":{},"dry_run":true}"#, ["ops"]),
                (.POST, "/v1/dead-letters/discard", #"{"filter":{},"dry_run":true}"#, ["ops"]),
                (.GET, "/metrics", nil, ["monitor", "ops"]),
            ]
            for (method, path, body, allowed) in routes {
                let anonymous = try await server.request(method, path, body: body)
                #expect(anonymous.status == 401 && anonymous.code == "auth.unauthorized", "\(method) \(path) without a key: \(anonymous.status)")
                let forged = try await server.request(method, path, body: body, headers: [("Authorization", "Bearer not-a-real-key-0000000000")])
                #expect(forged.status == 401, "\(method) \(path) with an unknown key: \(forged.status)")
                for role in ["client", "ops", "monitor"] {
                    let reply = try await server.request(method, path, role: role, body: body)
                    if allowed.contains(role) {
                        #expect(reply.status != 401 && reply.status != 403, "\(method) \(path) as \(role): \(reply.status)")
                    } else {
                        #expect(reply.status == 403 && reply.code == "auth.forbidden", "\(method) \(path) as \(role): \(reply.status)")
                    }
                }
            }
            for path in ["/healthz", "/readyz"] {
                #expect(try await server.request(.GET, path).status == 200)
            }
            // The scheme in any case, the key with the optional whitespace HTTP allows around it.
            let spaced = try await server.request(.GET, "/v1/workflows", headers: [("Authorization", "bEaReR \t \(APIServerProcess.secret("client")) \t")])
            #expect(spaced.status == 200)
            #expect(!server.log.contains(APIServerProcess.secret("ops")), "a key was logged")
        }
    }

    @Test func bodiesThatAreNotStrictJSONAreRefusedNotRewritten() async throws {
        try await TestDatabase.withServer(workflows: [Self.greet]) { server, _ in
            let invalidUTF8 = Array(#"{"type":"greet","input":{"name":"caf"#.utf8) + [0xE9] + Array(#""}}"#.utf8)
            let bodies: [[UInt8]] = [
                invalidUTF8,
                Array(#"{"type":"greet","input":{"n":1e999}}"#.utf8),
                Array(#"{"type":"greet","input":{"n":01}}"#.utf8),
            ]
            for body in bodies {
                let reply = try await server.request(.POST, "/v1/workflows", role: "client", bytes: body)
                #expect(reply.status == 400 && reply.code == "request.malformed_json", "\(String(decoding: body, as: UTF8.self)): \(reply.status) \(reply.text)")
            }
            let listed = try await server.request(.GET, "/v1/workflows", role: "client").json["items"]?.arrayValue ?? []
            #expect(listed.isEmpty, "a refused body started a workflow")
        }
    }

    @Test func everyFailureIsProblemJSONWithAStableCode() async throws {
        try await TestDatabase.withServer(workflows: [Self.greet], arguments: ["--body-limit", "2048"]) { server, _ in
            let cases: [(HTTPMethod, String, String?, Int, String)] = [
                (.POST, "/v1/workflows", "{not json", 400, "request.malformed_json"),
                (.POST, "/v1/workflows", "[1,2]", 422, "request.invalid"),
                (.POST, "/v1/workflows", #"{"type":"nope","input":{}}"#, 422, "workflow.unknown_type"),
                (.POST, "/v1/workflows", #"{"type":"greet","input":[1]}"#, 422, "workflow.invalid_input"),
                (.POST, "/v1/workflows", #"{"type":"greet","input":{},"extra":1}"#, 422, "request.invalid"),
                (.POST, "/v1/workflows", "", 400, "request.body_required"),
                (.POST, "/v1/workflows", #"{"type":"greet","input":{"blob":"\#(String(repeating: "x", count: 4096))"}}"#, 413, "request.too_large"),
                (.GET, "/v1/workflows/missing", nil, 404, "workflow.not_found"),
                (.GET, "/v1/workflows?limit=0", nil, 400, "request.invalid_limit"),
                (.GET, "/v1/workflows?status=sleepy", nil, 400, "request.invalid_status"),
                (.GET, "/v1/workflows?cursor=%%%", nil, 400, "request.invalid_cursor"),
                (.GET, "/v1/workflows?created_after=yesterday", nil, 400, "request.invalid_time"),
                (.DELETE, "/v1/workflows", nil, 405, "route.method_not_allowed"),
                (.GET, "/v1/nothing-here", nil, 404, "route.not_found"),
                (.GET, "/v1/dead-letters/424242", nil, 404, "dead_letter.not_found"),
                (.POST, "/v1/workflows/missing/signals/x", "{}", 404, "workflow.not_found"),
            ]
            for (method, path, body, status, code) in cases {
                let reply = try await server.request(method, path, role: "ops", body: body)
                #expect(reply.status == status && reply.code == code, "\(method) \(path): \(reply.status) \(reply.text)")
                #expect(reply.headers.first(name: "Content-Type") == "application/problem+json", "\(method) \(path)")
                #expect(reply.json["correlation_id"] == .string(reply.headers.first(name: "X-Correlation-Id") ?? "-"))
            }
            let allow = try await server.request(.DELETE, "/v1/workflows", role: "ops")
            #expect(allow.headers.first(name: "Allow") == "GET, POST")
            let echoed = try await server.request(.GET, "/healthz", headers: [("X-Correlation-Id", "trace-123")])
            #expect(echoed.headers.first(name: "X-Correlation-Id") == "trace-123")
        }
    }

    @Test func listsPageWithKeysetCursorsAndFilters() async throws {
        try await TestDatabase.withServer(workflows: [Self.greet, Self.approval], arguments: ["--workers", "0"]) { server, _ in
            for i in 0..<7 { try await server.start(["type": "greet", "input": ["i": .number(Double(i))]]) }
            for _ in 0..<2 { try await server.start(["type": "approval", "input": [:]]) }
            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let path = "/v1/workflows?type=greet&limit=3" + (cursor.map { "&cursor=\($0)" } ?? "")
                let page = try await server.request(.GET, path, role: "client").json
                seen += page["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
                cursor = page["next_cursor"]?.stringValue
                pages += 1
            } while cursor != nil && pages < 10
            #expect(pages == 3)
            #expect(seen.count == 7 && Set(seen).count == 7)
            let waiting = try await server.request(.GET, "/v1/workflows?status=waiting", role: "client").json
            #expect(waiting["items"]?.arrayValue?.count == 2)
            #expect(waiting["next_cursor"] == .null)
        }
    }

    @Test func aCallerGetsTheResultInOneRequestByWaiting() async throws {
        try await TestDatabase.withServer(workflows: [Self.greet, Self.approval]) { server, _ in
            let done = try await server.json(.POST, "/v1/workflows?wait=30s", role: "client", ["type": "greet", "input": ["name": "Ada"]])
            #expect(done.status == 201 && done.json["status"] == "completed" && done.json["output"] != nil, "\(done.text)")

            // A workflow that waits for a signal is answered at once: someone else must act.
            let approval = try await server.json(.POST, "/v1/workflows?wait=30s", role: "client", ["type": "approval", "input": [:]])
            #expect(approval.json["status"] == "waiting", "\(approval.text)")
            let id = approval.json["id"]?.stringValue ?? ""
            _ = try await server.json(.POST, "/v1/workflows/\(id)/signals/approved", role: "client", ["payload": ["ok": true]])
            let after = try await server.request(.GET, "/v1/workflows/\(id)?wait=30s", role: "client")
            #expect(after.json["status"] == "completed", "\(after.text)")

            for wait in ["soon", "0s", "2m"] {
                let refused = try await server.request(.GET, "/v1/workflows/\(id)?wait=\(wait)", role: "client")
                #expect(refused.status == 400 && refused.code == "request.invalid_wait", "\(wait): \(refused.text)")
            }
        }
    }

    /// The worker's wake-ups and the callers' waits share one LISTEN connection per process.
    @Test func aServerListensOnOneConnection() async throws {
        try await TestDatabase.withServer(workflows: [Self.greet]) { server, harness in
            let done = try await server.json(.POST, "/v1/workflows?wait=30s", role: "client", ["type": "greet", "input": ["name": "Ada"]])
            #expect(done.json["status"] == "completed", "\(done.text)")
            let listening = try await harness.query(
                """
                SELECT count(*) FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'
                """, as: Int64.self)
            #expect(listening == [1])
        }
    }

    @Test func workflowsAreFoundByTheTimeTheyStarted() async throws {
        try await TestDatabase.withServer(workflows: [Self.greet], arguments: ["--workers", "0"]) { server, _ in
            func start(_ count: Int) async throws -> [String] {
                var ids: [String] = []
                for _ in 0..<count {
                    ids.append(try await server.json(.POST, "/v1/workflows", role: "client", ["type": "greet", "input": [:]]).json["id"]?.stringValue ?? "")
                }
                return ids
            }
            let early = try await start(2)
            try await Task.sleep(for: .milliseconds(50))
            let between = Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(Date())
            try await Task.sleep(for: .milliseconds(50))
            let late = try await start(3)
            func ids(_ query: String) async throws -> [String] {
                let page = try await server.request(.GET, "/v1/workflows?\(query)", role: "client").json
                return page["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            }
            let encoded = between.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? between
            #expect(try await ids("created_after=\(encoded)") == late.reversed())
            #expect(try await ids("created_before=\(encoded)") == early.reversed())
            #expect(try await ids("type=greet&created_after=\(encoded)&created_before=\(encoded)").isEmpty)
        }
    }

    @Test func opsRetryAndDiscardDeadLettersOnceEach() async throws {
        let remote = ScriptedHTTPServer([.init(status: 404, body: "no such order")])
        try await remote.start()
        defer { Task { await remote.stop() } }
        try await TestDatabase.withServer(workflows: [Self.remote]) { server, harness in
            let started = try await server.json(
                .POST, "/v1/workflows", role: "client", ["type": "remote", "input": ["url": .string(remote.url)]],
                headers: [("X-Correlation-Id", "checkout-4711")])
            let id = try #require(started.json["id"]?.stringValue)
            _ = try await server.waitForWorkflow(id) { $0["status"] == "dead_lettered" }
            let list = try await server.request(.GET, "/v1/dead-letters?workflow_id=\(id)&status=open", role: "ops").json
            let letter = try #require(list["items"]?.arrayValue?.first)
            let letterID = try #require(letter["id"]?.stringValue)
            #expect(letter["error_code"] == "http.404")
            #expect(letter["attempts"]?.arrayValue?.first?["error"]?["code"] == "http.404")
            #expect(remote.requests.first?.headers["x-correlation-id"] == "checkout-4711")
            let byActivity = try await server.request(.GET, "/v1/dead-letters?activity=http&error_code=http.404", role: "ops").json
            #expect(byActivity["items"]?.arrayValue?.count == 1)

            let retried = try await server.request(.POST, "/v1/dead-letters/\(letterID)/retry", role: "ops")
            #expect(retried.status == 200 && retried.json["status"] == "retried" && retried.json["resolved_by"] == "alice")
            let twice = try await server.request(.POST, "/v1/dead-letters/\(letterID)/retry", role: "ops")
            #expect(twice.status == 409 && twice.code == "dead_letter.already_resolved")

            // It fails again: a new dead letter, which ops discard; the workflow fails.
            _ = try await server.waitForWorkflow(id) { $0["status"] == "dead_lettered" }
            let open = try await server.request(.GET, "/v1/dead-letters?workflow_id=\(id)&status=open", role: "ops").json
            let second = try #require(open["items"]?.arrayValue?.first?["id"]?.stringValue)
            #expect(second != letterID)
            let discarded = try await server.request(.POST, "/v1/dead-letters/\(second)/discard", role: "ops")
            #expect(discarded.status == 200 && discarded.json["status"] == "discarded")
            #expect(try await server.request(.POST, "/v1/dead-letters/\(second)/discard", role: "ops").status == 409)
            let failed = try await server.request(.GET, "/v1/workflows/\(id)", role: "client").json
            #expect(failed["status"] == "failed" && failed["error"]?["code"] == "http.404")
            let events = try await harness.engine.reads.history(id).map(\.type)
            #expect(events.contains(.deadLetterRetried) && events.contains(.deadLetterDiscarded))
        }
    }

    @Test func dashboardReportsATaskNoWorkerPicksUpAsLate() async throws {
        try await TestDatabase.withServer(workflows: [Self.greet], arguments: ["--workers", "0", "--late-after", "1s"]) { server, _ in
            let started = try await server.start(["type": "greet", "input": [:]])
            let id = try #require(started.json["id"]?.stringValue)
            // Late once more than 1 s has passed by the server's clock: asked until it says so, as a
            // loaded machine may answer late or with a clock resynchronized meanwhile.
            var dashboard: JSONValue = .null
            for _ in 0..<120 {
                try await Task.sleep(for: .milliseconds(250))
                dashboard = try await server.request(.GET, "/v1/dashboard", role: "monitor").json
                if dashboard["late_tasks"]?.arrayValue?.isEmpty == false { break }
            }
            let late = try #require(dashboard["late_tasks"]?.arrayValue?.first, "\(dashboard.jsonText)\n\(server.logTail)")
            #expect(late["workflow_id"] == .string(id))
            #expect(late["activity"] == "noop")
            #expect(late["reason"] == "not_started")
            #expect(late["cause"]?["code"] == "no_live_worker", "\(late)")
            #expect((late["late_by_seconds"]?.numberValue ?? 0) > 0)
            let taskID = try #require(late["task_id"]?.stringValue)
            let delay = try await server.request(.GET, "/v1/tasks/\(taskID)/delay", role: "ops")
            #expect(delay.status == 200 && delay.json["cause"]?["code"] == "no_live_worker" && delay.json["live_workers"] == 0, "\(delay.text)")
            #expect(try await server.request(.GET, "/v1/tasks/x/delay", role: "ops").code == "task.not_found")
            #expect(dashboard["queues"]?.arrayValue?.first?["ready"] == 1)
            #expect((dashboard["queues"]?.arrayValue?.first?["oldest_ready_age_seconds"]?.numberValue ?? 0) >= 1)
            #expect(dashboard["dead_letters"]?["open"] == 0)
            #expect(dashboard["workers"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test func metricsExposeTheDocumentedFamilies() async throws {
        try await TestDatabase.withServer(workflows: [Self.greet, Self.approval]) { server, _ in
            let started = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "greet", "input": [:]])
            _ = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "approval", "input": [:]])
            _ = try await server.waitForWorkflow(started.json["id"]?.stringValue ?? "") { $0["status"] == "completed" }
            let reply = try await server.request(.GET, "/metrics", role: "monitor")
            #expect(reply.text.contains("orchestrator_workflows_active{type=\"approval\",status=\"waiting\"} 1"))
            #expect(reply.status == 200)
            #expect(reply.headers.first(name: "Content-Type")?.hasPrefix("text/plain") == true)
            for family in [
                "orchestrator_tasks_total{activity=\"noop\",outcome=\"completed\"}",
                "orchestrator_task_duration_seconds_bucket", "orchestrator_task_schedule_to_start_seconds_bucket", "orchestrator_queue_ready_tasks", "orchestrator_late_tasks",
                "orchestrator_dead_letters_open_total", "orchestrator_workflows_active", "orchestrator_workflows_started_total",
                "orchestrator_workflows_ended_total", "orchestrator_http_requests_total{route=\"/v1/workflows\",method=\"POST\",status=\"201\"}",
                "orchestrator_workers_live", "orchestrator_task_conclusions_total{path=\"snapshot\"}",
            ] {
                #expect(reply.text.contains(family), "missing \(family)")
            }
            let id = started.json["id"]?.stringValue ?? "-"
            #expect(!reply.text.contains(id), "an id leaked into a label")
        }
    }
}
