import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Activities
import Orchestrator

/// One route: method, path template and handler.
struct Endpoint: Sendable {
    typealias Handler = @Sendable (Request, APIRequestContext) async throws -> Response
    var method: HTTPRequest.Method
    var path: String
    var handler: Handler

    init(_ method: HTTPRequest.Method, _ path: String, _ handler: @escaping Handler) {
        self.method = method
        self.path = path
        self.handler = handler
    }
}

/// Builds the HTTP application: the routes of `openapi.yaml` behind their roles.
enum APIServer {
    struct Settings: Sendable {
        var host: String
        var port: Int
        var keyring: APIKeyring
        var bodyLimit: Int
        var edge: EdgeLimits
        var probe: DatabaseProbe
        var commerce: CommerceServices
        var watcher: WorkflowWatcher
    }

    static func router(engine: Engine, settings: Settings) throws -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: RequestTelemetryMiddleware())
        router.add(middleware: SecurityHeadersMiddleware())
        router.add(middleware: CorrelationMiddleware(bodyLimit: settings.bodyLimit, probe: settings.probe))
        let limiter = RateLimiter(rates: settings.edge.rates)

        let operations = OperationsRoutes(
            engine: engine, metrics: MetricsRegistry.shared, probe: settings.probe, latestSchemaVersion: try Migrator().latestVersion)
        let commerce = CommerceRoutes(engine: engine)
        var sections: [(roles: Set<Role>?, endpoints: [Endpoint])] = [
            (nil, operations.publicEndpoints),
            (nil, try ConsoleRoutes().endpoints),
            (nil, StripeWebhookRoutes(engine: engine, secrets: settings.commerce.settings.webhookSecrets).endpoints),
            ([.monitor, .ops], operations.monitorEndpoints),
            ([.client, .ops], WorkflowRoutes(engine: engine, watcher: settings.watcher).endpoints),
            ([.client, .ops], commerce.clientEndpoints),
            ([.ops], commerce.opsEndpoints),
            ([.ops], DeadLetterRoutes(engine: engine).endpoints),
        ]
        if let gateway = settings.commerce.localGateway {
            sections.append(([.client, .ops], LocalPaymentRoutes(engine: engine, gateway: gateway).endpoints))
        }
        for (roles, endpoints) in sections {
            let group = router.group()
            if let roles {
                group.add(middleware: AuthMiddleware(keyring: settings.keyring, roles: roles))
                group.add(middleware: RateLimitMiddleware(limiter: limiter))
            }
            for endpoint in endpoints {
                group.on(RouterPath(endpoint.path), method: endpoint.method, use: endpoint.handler)
            }
        }
        // A known path with another method answers 405 with Allow, before any authentication.
        let all = sections.flatMap(\.endpoints)
        for (path, allowed) in Dictionary(grouping: all, by: \.path) {
            let allow = allowed.map(\.method.rawValue).sorted().joined(separator: ", ")
            for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] where !allowed.contains(where: { $0.method == method }) {
                router.on(RouterPath(path), method: method) { _, _ -> Response in
                    var error = APIError(.methodNotAllowed, "route.method_not_allowed", "\(path) accepts \(allow)")
                    error.headers[.allow] = allow
                    throw error
                }
            }
        }
        return router
    }

    /// The application; `onListening` runs once the listener is bound, with its port.
    static func application(
        engine: Engine, settings: Settings, logger: Logger, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let edge = settings.edge
        return Application(
            router: try router(engine: engine, settings: settings),
            server: .http1(configuration: .init(
                additionalChannelHandlers: [ConnectionGuard(bodyTimeout: TimeAmount(edge.bodyTimeout))],
                idleTimeout: TimeAmount(edge.idleTimeout))),
            configuration: .init(
                address: .hostname(settings.host, port: settings.port), serverName: "orchestrator",
                availableConnectionsDelegate: .maximum(edge.maxConnections, logger: logger)),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? settings.port) },
            logger: logger)
    }
}
