import Hummingbird
import Logging
import Orchestrator

/// Monitoring routes: dashboard, metrics and why a task waits (monitor, ops), liveness and readiness (anyone).
struct OperationsRoutes {
    let engine: Engine
    let metrics: MetricsRegistry
    let probe: DatabaseProbe
    let latestSchemaVersion: Int

    var monitorEndpoints: [Endpoint] {
        [Endpoint(.get, "/v1/dashboard", dashboard), Endpoint(.get, "/metrics", metrics), Endpoint(.get, "/v1/tasks/{id}/delay", delay)]
    }

    var publicEndpoints: [Endpoint] {
        [Endpoint(.get, "/healthz", healthz), Endpoint(.get, "/readyz", readyz)]
    }

    @Sendable func dashboard(_ request: Request, context: APIRequestContext) async throws -> Response {
        .json(Representation.dashboard(try await engine.reads.dashboard()))
    }

    /// Why a task has not run, or not finished, yet: its facts and the cause they point to.
    @Sendable func delay(_ request: Request, context: APIRequestContext) async throws -> Response {
        guard let id = Int64(try context.path("id")) else { throw APIError(.notFound, OrchestratorError.Code.taskNotFound.rawValue, "no such task") }
        let (facts, cause) = try await engine.reads.delay(ofTask: id)
        return .json(Representation.delay(facts, cause))
    }

    @Sendable func metrics(_ request: Request, context: APIRequestContext) async throws -> Response {
        let activities = Set(engine.definitions.flatMap { $0.states.values.compactMap(\.taskSpec?.activity) })
        // While the database is away the scrape still answers, saying so (`orchestrator_database_up 0`).
        let dashboard = probe.isReachable ? try? await engine.reads.dashboard(explainingLateTasks: false) : nil
        let text = metrics.scrape(dashboard, activities: activities)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    @Sendable func healthz(_ request: Request, context: APIRequestContext) async throws -> Response {
        .json(["status": "ok"])
    }

    /// Ready when the database answers and its migrations are current.
    @Sendable func readyz(_ request: Request, context: APIRequestContext) async throws -> Response {
        let status = probe.status
        guard probe.isReachable else {
            throw APIError(.serviceUnavailable, "ready.database_unreachable", "the database does not answer")
        }
        guard status.schemaVersion == latestSchemaVersion else {
            throw APIError(.serviceUnavailable, "ready.migrations_pending", "database schema is at \(status.schemaVersion), this server needs \(latestSchemaVersion)")
        }
        return .json(["status": "ready", "schema_version": .number(Double(status.schemaVersion))])
    }
}
