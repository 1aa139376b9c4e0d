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
        let channel = try await LoopbackHTTP.bind { Handler(server: self) }
        boundPort.withLock { $0 = channel.localAddress?.port ?? 0 }
        self.channel.withLock { $0 = channel }
    }

    func stop() async {
        let channel = self.channel.withLock { $0 }
        try? await channel?.close()
    }

    fileprivate func answer(_ request: Request) -> Response {
        log.withLock { $0.append(request) }
        return script.withLock { script in
            script.count > 1 ? script.removeFirst() : (script.first ?? Response(status: 200))
        }
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let server: ScriptedHTTPServer
        var head: HTTPRequestHead?
        var body = ""

        init(server: ScriptedHTTPServer) { self.server = server }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = ""
            case .body(var buffer):
                body += buffer.readString(length: buffer.readableBytes) ?? ""
            case .end:
                guard let head else { return }
                var headers: [String: String] = [:]
                for (name, value) in head.headers { headers[name.lowercased()] = value }
                let response = server.answer(Request(method: head.method.rawValue, uri: head.uri, headers: headers, body: body))
                var responseHeaders = HTTPHeaders(response.headers)
                responseHeaders.replaceOrAdd(name: "Content-Length", value: "\(response.body.utf8.count)")
                let responseHead = HTTPResponseHead(version: head.version, status: HTTPResponseStatus(statusCode: response.status), headers: responseHeaders)
                context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: response.body)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
