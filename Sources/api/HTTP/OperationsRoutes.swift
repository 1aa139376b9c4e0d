import Hummingbird
import Logging
import Orchestrator

/// Monitoring routes: dashboard and metrics (monitor, ops), liveness and readiness (anyone).
struct OperationsRoutes {
    let engine: Engine
    let metrics: MetricsRegistry

    var monitorEndpoints: [Endpoint] {
        [Endpoint(.get, "/v1/dashboard", dashboard), Endpoint(.get, "/metrics", metrics)]
    }

    var publicEndpoints: [Endpoint] {
        [Endpoint(.get, "/healthz", healthz), Endpoint(.get, "/readyz", readyz)]
    }

    @Sendable func dashboard(_ request: Request, context: APIRequestContext) async throws -> Response {
        .json(Representation.dashboard(try await engine.dashboard()))
    }

    @Sendable func metrics(_ request: Request, context: APIRequestContext) async throws -> Response {
        let activities = Set(engine.definitions.flatMap { $0.states.values.compactMap(\.taskSpec?.activity) })
        let text = metrics.scrape(try await engine.dashboard(), activities: activities)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    @Sendable func healthz(_ request: Request, context: APIRequestContext) async throws -> Response {
        .json(["status": "ok"])
    }

    /// Ready when the database answers and its migrations are current.
    @Sendable func readyz(_ request: Request, context: APIRequestContext) async throws -> Response {
        let migrator = try Migrator()
        do {
            let version = try await withTimeout(.seconds(3)) {
                try await migrator.currentVersion(client: engine.client, logger: context.logger)
            }
            guard version == migrator.latestVersion else {
                throw APIError(.serviceUnavailable, "ready.migrations_pending", "database schema is at \(version), this server needs \(migrator.latestVersion)")
            }
            return .json(["status": "ready", "schema_version": .number(Double(version))])
        } catch let error as APIError {
            throw error
        } catch {
            context.logger.warning("not ready", metadata: [LogKey.error: "\(String(reflecting: error))"])
            throw APIError(.serviceUnavailable, "ready.database_unreachable", "the database does not answer")
        }
    }
}

/// Runs `body`, throwing `CancellationError` if it takes longer than `timeout`.
func withTimeout<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw CancellationError() }
        return value
    }
}
