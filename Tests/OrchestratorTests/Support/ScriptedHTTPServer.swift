import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A local HTTP server that answers with a script of responses (the last one repeats) and
/// records every request it receives.
final class ScriptedHTTPServer: Sendable {
    struct Response: Sendable {
        var status: Int
        var headers: [(String, String)] = []
        var body: String = ""
    }

    struct Request: Sendable {
        var method: String
        var uri: String
        var headers: [String: String]
        var body: String
    }

    private let script: Mutex<[Response]>
    private let log = Mutex<[Request]>([])
    private let channel: Mutex<(any Channel)?> = Mutex(nil)
    private let boundPort = Mutex(0)

    init(_ responses: [Response]) {
        script = Mutex(responses)
    }

    var port: Int { boundPort.withLock { $0 } }
    var url: String { "http://127.0.0.1:\(port)" }
    var requests: [Request] { log.withLock { $0 } }

    func start() async throws {
        let channel = try await LoopbackHTTP.bind { head, body in
            var headers: [String: String] = [:]
            for (name, value) in head.headers { headers[name.lowercased()] = value }
            let response = self.answer(Request(method: head.method.rawValue, uri: head.uri, headers: headers, body: body))
            return LoopbackReply(status: response.status, headers: response.headers, body: response.body)
        }
        boundPort.withLock { $0 = channel.localAddress?.port ?? 0 }
        self.channel.withLock { $0 = channel }
    }

    func stop() async {
        let channel = self.channel.withLock { $0 }
        try? await channel?.close()
    }

    private func answer(_ request: Request) -> Response {
        log.withLock { $0.append(request) }
        return script.withLock { script in
            script.count > 1 ? script.removeFirst() : (script.first ?? Response(status: 200))
        }
    }
}
