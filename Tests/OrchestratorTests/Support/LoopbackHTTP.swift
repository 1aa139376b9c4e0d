import NIOCore
import NIOHTTP1
import NIOPosix

/// What a test server answers to one request, and after how long.
struct LoopbackReply: Sendable {
    var status: Int = 200
    var headers: [(String, String)] = []
    var body: String = ""
    var delay: Duration = .zero
    /// Called on the event loop once the reply is written.
    var onSent: (@Sendable () -> Void)? = nil
}

/// The test HTTP servers' common part: an HTTP/1.1 listener on a free loopback port that collects
/// each request and writes the reply `respond` gives for it.
enum LoopbackHTTP {
    /// Binds and returns the listening channel.
    static func bind(_ respond: @escaping @Sendable (HTTPRequestHead, String) -> LoopbackReply) async throws -> any Channel {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 512)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(respond: respond))
                }
            }
        return try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let respond: @Sendable (HTTPRequestHead, String) -> LoopbackReply
        var head: HTTPRequestHead?
        var body = ""

        init(respond: @escaping @Sendable (HTTPRequestHead, String) -> LoopbackReply) { self.respond = respond }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = ""
            case .body(var buffer):
                body += buffer.readString(length: buffer.readableBytes) ?? ""
            case .end:
                guard let head else { return }
                let reply = respond(head, body)
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: .nanoseconds(Int64(reply.delay / .nanoseconds(1)))) {
                    let (handler, context) = loopBound.value
                    var headers = HTTPHeaders(reply.headers)
                    headers.replaceOrAdd(name: "Content-Length", value: "\(reply.body.utf8.count)")
                    let responseHead = HTTPResponseHead(version: head.version, status: HTTPResponseStatus(statusCode: reply.status), headers: headers)
                    context.write(handler.wrapOutboundOut(.head(responseHead)), promise: nil)
                    context.write(handler.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: reply.body)))), promise: nil)
                    context.writeAndFlush(handler.wrapOutboundOut(.end(nil)), promise: nil)
                    reply.onSent?()
                }
            }
        }
    }
}
