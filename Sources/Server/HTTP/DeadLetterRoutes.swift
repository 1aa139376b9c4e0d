import Hummingbird
import Orchestrator

/// Ops routes: inspect dead letters and resolve each once.
struct DeadLetterRoutes {
    let engine: Engine

    var endpoints: [Endpoint] {
        [
            Endpoint(.get, "/v1/dead-letters", list),
            Endpoint(.get, "/v1/dead-letters/{id}", get),
            Endpoint(.post, "/v1/dead-letters/{id}/retry", retry),
            Endpoint(.post, "/v1/dead-letters/{id}/discard", discard),
        ]
    }

    func id(_ context: APIRequestContext) throws -> Int64 {
        guard let id = Int64(try context.path("id")) else {
            throw APIError(.notFound, OrchestratorError.Code.deadLetterNotFound.rawValue, "no such dead letter")
        }
        return id
    }

    @Sendable func list(_ request: Request, context: APIRequestContext) async throws -> Response {
        let limit = try request.pageLimit()
        var filter = DeadLetterFilter(
            workflowID: try request.query("workflow_id"), workflowType: try request.query("workflow_type"),
            activity: try request.query("activity"), errorCode: try request.query("error_code"))
        if let text = try request.query("status") {
            guard let status = DeadLetterRecord.Status(rawValue: text) else {
                throw APIError.badRequest("request.invalid_status", "status must be open, retried or discarded")
            }
            filter.status = status
        }
        var before: Int64?
        if let cursor = try Cursor.decode(try request.query("cursor")) {
            guard let value = Int64(cursor) else { throw APIError.badRequest("request.invalid_cursor", "cursor is not one this server issued") }
            before = value
        }
        let fetched = try await engine.deadLetters(filter, limit: limit + 1, before: before)
        return .json(Cursor.page(Array(fetched.prefix(limit)), more: fetched.count > limit, key: { String($0.id) }, json: Representation.deadLetter))
    }

    @Sendable func get(_ request: Request, context: APIRequestContext) async throws -> Response {
        .json(Representation.deadLetter(try await engine.deadLetter(try id(context))))
    }

    @Sendable func retry(_ request: Request, context: APIRequestContext) async throws -> Response {
        .json(Representation.deadLetter(try await engine.retryDeadLetter(try id(context), by: context.key?.name ?? "api")))
    }

    @Sendable func discard(_ request: Request, context: APIRequestContext) async throws -> Response {
        .json(Representation.deadLetter(try await engine.discardDeadLetter(try id(context), by: context.key?.name ?? "api")))
    }
}
