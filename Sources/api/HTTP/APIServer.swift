import Hummingbird
import Logging
import Orchestrator

/// Builds the HTTP application: the routes of DESIGN.md's table behind their roles.
enum APIServer {
    struct Settings: Sendable {
        var host: String
        var port: Int
        var keyring: APIKeyring
        var bodyLimit: Int
    }

    static func router(engine: Engine, settings: Settings) -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: HTTPMetricsMiddleware())
        router.add(middleware: CorrelationMiddleware(bodyLimit: settings.bodyLimit))

        let operations = OperationsRoutes(engine: engine, metrics: MetricsRegistry.shared)
        router.get("healthz", use: operations.healthz)
        router.get("readyz", use: operations.readyz)
        router.group().add(middleware: AuthMiddleware(keyring: settings.keyring, roles: [.monitor, .ops]))
            .get("metrics", use: operations.metrics)
            .get("v1/dashboard", use: operations.dashboard)

        WorkflowRoutes(engine: engine).register(on: router.group("v1").add(middleware: AuthMiddleware(keyring: settings.keyring, roles: [.client, .ops])))
        DeadLetterRoutes(engine: engine).register(on: router.group("v1").add(middleware: AuthMiddleware(keyring: settings.keyring, roles: [.ops])))
        return router
    }

    static func application(engine: Engine, settings: Settings, logger: Logger) -> some ApplicationProtocol {
        Application(
            router: router(engine: engine, settings: settings),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "orchestrator"),
            logger: logger)
    }
}
