import NIOCore
import NIOHTTP1
import NIOPosix

/// The test HTTP servers' common part: an HTTP/1.1 listener on a free loopback port.
enum LoopbackHTTP {
    /// Binds and returns the listening channel; each connection gets `makeHandler()` after the HTTP codec.
    static func bind(_ makeHandler: @escaping @Sendable () -> any ChannelHandler) async throws -> any Channel {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 512)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(makeHandler())
                }
            }
        return try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
    }
}
