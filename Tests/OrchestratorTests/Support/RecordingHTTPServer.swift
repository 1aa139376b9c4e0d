import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A local HTTP server standing in for an outside service in the durability tests. It answers
/// `200 {"ok": true}` after a delay (set per path), records every request with its
/// `Idempotency-Key`, and watches concurrency: requests per path at once, and requests carrying
/// the same key at once (one task running on two workers).
final class RecordingHTTPServer: Sendable {
    struct Request: Sendable {
        var path: String
        var idempotencyKey: String
        var body: String
    }

    private struct State {
        var requests: [Request] = []
        var inFlightByPath: [String: Int] = [:]
        var maxInFlightByPath: [String: Int] = [:]
        var inFlightKeys: [String: Int] = [:]
        var overlappingKeys: Set<String> = []
        var delays: [String: Duration] = [:]
    }

    private let state = Mutex(State())
    private let channel: Mutex<(any Channel)?> = Mutex(nil)
    private let boundPort = Mutex(0)

    var port: Int { boundPort.withLock { $0 } }
    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }
    var requests: [Request] { state.withLock { $0.requests } }
    var overlappingKeys: Set<String> { state.withLock { $0.overlappingKeys } }
    var inFlight: Int { state.withLock { $0.inFlightByPath.values.reduce(0, +) } }
    func maxInFlight(_ path: String) -> Int { state.withLock { $0.maxInFlightByPath[path] ?? 0 } }

    /// How long requests to `path` take from now on.
    func setDelay(_ delay: Duration, for path: String) { state.withLock { $0.delays[path] = delay } }

    func start() async throws {
        let channel = try await LoopbackHTTP.bind { head, body in
            let path = String(head.uri.split(separator: "?").first ?? "")
            let request = Request(path: path, idempotencyKey: head.headers.first(name: "Idempotency-Key") ?? "", body: body)
            return LoopbackReply(
                headers: [("Content-Type", "application/json")], body: #"{"ok": true}"#, delay: self.begin(request),
                onSent: { self.end(request) })
        }
        boundPort.withLock { $0 = channel.localAddress?.port ?? 0 }
        self.channel.withLock { $0 = channel }
    }

    func stop() async {
        let channel = self.channel.withLock { $0 }
        try? await channel?.close()
    }

    private func begin(_ request: Request) -> Duration {
        state.withLock { state in
            state.requests.append(request)
            state.inFlightByPath[request.path, default: 0] += 1
            state.maxInFlightByPath[request.path] = max(state.maxInFlightByPath[request.path] ?? 0, state.inFlightByPath[request.path]!)
            state.inFlightKeys[request.idempotencyKey, default: 0] += 1
            if state.inFlightKeys[request.idempotencyKey]! > 1 { state.overlappingKeys.insert(request.idempotencyKey) }
            return state.delays[request.path] ?? .milliseconds(5)
        }
    }

    private func end(_ request: Request) {
        state.withLock { state in
            state.inFlightByPath[request.path, default: 1] -= 1
            state.inFlightKeys[request.idempotencyKey, default: 1] -= 1
        }
    }
}
