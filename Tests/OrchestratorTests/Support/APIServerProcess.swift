import Activities
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Orchestrator
import Testing

/// The real `orchestrator serve` on a free port, with known keys, driven over HTTP.
final class APIServerProcess: Sendable {
    struct Reply: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var text: String
        var json: JSONValue { (try? JSONValue(json: text)) ?? .null }
        var code: String? { json["code"]?.stringValue }
    }

    static let keys = [
        "client": "client:shop-backend:client-key-000000000000000",
        "ops": "ops:alice:ops-key-0000000000000000000",
        "monitor": "monitor:prometheus:monitor-key-00000000000000",
    ]

    static func secret(_ role: String) -> String { String(keys[role]!.split(separator: ":").last!) }

    let process: ChildProcess
    let port: Int
    let folder: URL
    let output: URL
    let http = HTTPClient(eventLoopGroupProvider: .singleton)

    /// Starts the server; `databaseURL` nil means the embedded cluster in the server's data folder.
    init(
        workflows: [String], databaseURL: String?, arguments: [String] = [], environment: [String: String] = [:], executable: URL = Executable.url,
        inheriting: [Int32] = []
    ) async throws {
        folder = try Executable.temporaryFolder()
        let workflowsFolder = folder.appendingPathComponent("workflows.d")
        try FileManager.default.createDirectory(at: workflowsFolder, withIntermediateDirectories: true)
        for yaml in workflows {
            let type = yaml.split(separator: "\n").first { $0.hasPrefix("type:") }.map { $0.dropFirst(5).trimmingCharacters(in: .whitespaces) } ?? "x"
            try yaml.write(to: workflowsFolder.appendingPathComponent("\(type).yaml"), atomically: true, encoding: .utf8)
        }
        let keysFile = folder.appendingPathComponent("keys")
        try Self.keys.values.joined(separator: "\n").write(to: keysFile, atomically: true, encoding: .utf8)
        port = Self.freePort()
        var arguments = ["serve", "--port", String(port), "--workflows-dir", workflowsFolder.path, "--api-keys-file", keysFile.path,
                         "--data-dir", folder.appendingPathComponent("data").path] + arguments
        if let databaseURL { arguments += ["--database-url", databaseURL] }
        if getuid() == 0 { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder.path) }
        (process, output) = try Executable.spawn(arguments, in: folder, environment: environment, executable: executable, inheriting: inheriting)
        do {
            try await waitUntilReady()
        } catch {
            await stop()
            throw error
        }
    }

    var log: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

    func waitUntilReady(timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if !process.isRunning { throw OrchestratorError(.configuration, "server exited: \(log)") }
            if let reply = try? await request(.GET, "/readyz"), reply.status == 200 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw OrchestratorError(.configuration, "server not ready in time: \(log)")
    }

    func request(_ method: HTTPMethod, _ path: String, role: String? = nil, body: String? = nil, headers: [(String, String)] = []) async throws -> Reply {
        try await request(method, path, role: role, bytes: body.map { Array($0.utf8) }, headers: headers)
    }

    /// A request whose body is any bytes (not necessarily UTF-8).
    func request(_ method: HTTPMethod, _ path: String, role: String? = nil, bytes: [UInt8]?, headers: [(String, String)] = []) async throws -> Reply {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        if let role { request.headers.add(name: "Authorization", value: "Bearer \(Self.secret(role))") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let bytes {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: bytes))
        }
        let response = try await http.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, text: String(buffer: bytes))
    }

    func json(_ method: HTTPMethod, _ path: String, role: String?, _ body: JSONValue, headers: [(String, String)] = []) async throws -> Reply {
        try await request(method, path, role: role, body: body.jsonText, headers: headers)
    }

    /// Starts a workflow as a client honouring `503` and `Retry-After` does (a database whose
    /// answer to the server's probe takes over 5 s counts as away, which a loaded machine can
    /// reach); records an issue, with the server's last log lines, unless the start ends `201`.
    @discardableResult
    func start(_ body: JSONValue, role: String = "client") async throws -> Reply {
        var reply = try await json(.POST, "/v1/workflows", role: role, body)
        for _ in 0..<30 where reply.status == 503 {
            try await Task.sleep(for: .milliseconds(500))
            reply = try await json(.POST, "/v1/workflows", role: role, body)
        }
        #expect(reply.status == 201, "start: \(reply.status) \(reply.text)\nserver log, last lines:\n\(logTail)")
        return reply
    }

    /// The server's last 40 log lines: its own account of what went wrong.
    var logTail: String { log.split(separator: "\n").suffix(40).joined(separator: "\n") }

    /// Polls until `condition` holds for the workflow (bounded).
    func waitForWorkflow(_ id: String, timeout: Duration = .seconds(30), until condition: (JSONValue) -> Bool) async throws -> JSONValue {
        let deadline = ContinuousClock.now + timeout
        var last: JSONValue = .null
        while ContinuousClock.now < deadline {
            last = try await request(.GET, "/v1/workflows/\(id)", role: "client").json
            if condition(last) { return last }
            try await Task.sleep(for: .milliseconds(50))
        }
        // The server's own account (its warnings) is what tells a stuck worker from a slow one.
        Issue.record("workflow \(id) never reached the condition; last: \(last.jsonText)\nserver log, last lines:\n\(logTail)")
        return last
    }

    /// Kills the process at once (SIGKILL): nothing is flushed, released or committed.
    func crash() async {
        process.send(SIGKILL)
        await stop()
    }

    /// Asks the process to stop (SIGTERM) and waits up to `timeout`; returns whether it exited.
    func terminate(within timeout: Duration) async -> Bool {
        process.send(SIGTERM)
        return await process.exit(within: timeout) != nil
    }

    func stop() async {
        await process.stop()
        try? await http.shutdown()
        try? FileManager.default.removeItem(at: folder)
    }

    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

extension TestDatabase {
    /// Runs `body` against a real server on a fresh database.
    static func withServer(
        workflows: [String], arguments: [String] = [], environment: [String: String] = [:], _ body: (APIServerProcess, TestHarness) async throws -> Void
    ) async throws {
        try #require(Executable.exists, "build the orchestrator executable first")
        var registry = TestDatabase.registry()
        registry.register(HTTPActivity(client: HTTPClient.shared, allowList: .loopback))
        registry.register(SleepActivity())
        registry.register(NotifyActivity(email: LogNotifier(channel: .email), sms: LogNotifier(channel: .sms)))
        try await withHarness(workflows: workflows, registry: registry, clockStart: Date()) { harness in
            let server = try await APIServerProcess(workflows: workflows, databaseURL: harness.databaseURL, arguments: arguments, environment: environment)
            do {
                try await body(server, harness)
            } catch {
                await server.stop()
                throw error
            }
            await server.stop()
        }
    }
}
