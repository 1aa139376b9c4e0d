import Hummingbird
import Orchestrator

/// Client routes: start, read, list, signal, cancel.
struct WorkflowRoutes {
    let engine: Engine
    let watcher: WorkflowWatcher
    /// The longest `?wait=` a caller may ask for.
    static let longestWait: Duration = .seconds(60)

    var endpoints: [Endpoint] {
        [
            Endpoint(.post, "/v1/workflows", start),
            Endpoint(.get, "/v1/workflows", list),
            Endpoint(.get, "/v1/workflows/{id}", get),
            Endpoint(.get, "/v1/workflows/{id}/history", history),
            Endpoint(.get, "/v1/workflows/{id}/definition", definition),
            Endpoint(.post, "/v1/workflows/{id}/signals/{name}", signal),
            Endpoint(.post, "/v1/workflows/{id}/cancel", cancel),
        ]
    }

    @Sendable func start(_ request: Request, context: APIRequestContext) async throws -> Response {
        var request = request
        let body = try await request.jsonObject(context: context).onlyFields(["type", "input", "id"])
        guard let type = body["type"]?.stringValue, !type.isEmpty else {
            throw APIError(.unprocessableContent, "request.invalid", "'type' must be a non-empty string")
        }
        let input = body["input"] ?? .emptyObject
        guard input.objectValue != nil else {
            throw APIError(.unprocessableContent, OrchestratorError.Code.invalidInput.rawValue, "'input' must be a JSON object")
        }
        var id: String?
        if let given = body["id"] {
            guard let text = given.stringValue else { throw APIError(.unprocessableContent, "request.invalid", "'id' must be a string") }
            id = text
        }
        if let roles = engine.definition(type)?.startRoles, let role = context.key?.role, !roles.contains(role.rawValue) {
            throw APIError(.forbidden, "auth.forbidden", "starting a \(type) needs the \(roles.joined(separator: " or ")) role")
        }
        let wait = try request.wait()
        var (workflow, created) = try await engine.lifecycle.start(StartRequest(
            type: type, input: input, id: id, idempotencyKey: try request.idempotencyKey(), correlationID: context.correlationID,
            startedBy: context.key?.name))
        if let wait { workflow = try await watcher.settled(workflow.id, within: wait) }
        var response = Response.json(Representation.workflow(workflow), status: created ? .created : .ok)
        response.headers[.location] = "/v1/workflows/\(workflow.id.pathSegment)"
        return response
    }

    @Sendable func get(_ request: Request, context: APIRequestContext) async throws -> Response {
        let id = try context.path("id")
        if let wait = try request.wait() { return .json(Representation.workflow(try await watcher.settled(id, within: wait))) }
        return .json(Representation.workflow(try await engine.reads.workflow(id)))
    }

    @Sendable func history(_ request: Request, context: APIRequestContext) async throws -> Response {
        let id = try context.path("id")
        let limit = try request.pageLimit(default: 1000, max: 1000)
        let after = try Cursor.decode(try request.query("cursor")).map { key -> Int in
            guard let seq = Int(key), seq >= 0 else { throw APIError.badRequest("request.invalid_cursor", "cursor is not one this server issued") }
            return seq
        }
        _ = try await engine.reads.workflow(id)  // 404 for an unknown id, not an empty list
        let page = try await engine.reads.history(id, after: after, limit: limit)
        var body = Cursor.page(page.events, more: page.more, key: { String($0.seq) }, json: Representation.event)
        body["workflow_id"] = .string(id)
        return .json(body)
    }

    @Sendable func list(_ request: Request, context: APIRequestContext) async throws -> Response {
        let limit = try request.pageLimit()
        var status: WorkflowStatus?
        if let text = try request.query("status") {
            guard let parsed = WorkflowStatus(rawValue: text) else {
                throw APIError.badRequest("request.invalid_status", "status must be one of \(WorkflowStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            status = parsed
        }
        let filter = WorkflowFilter(
            type: try request.query("type"), status: status,
            createdAfter: try request.timeQuery("created_after"), createdBefore: try request.timeQuery("created_before"))
        let page = try await engine.reads.workflows(filter, limit: limit, after: try Cursor.decode(try request.query("cursor")))
        return .json(Cursor.page(page.records, more: page.more, key: \.id, json: Representation.workflow))
    }

    /// The state machine the instance runs on (its pinned version): what the console draws.
    @Sendable func definition(_ request: Request, context: APIRequestContext) async throws -> Response {
        .json(Representation.definition(try await engine.reads.pinnedDefinition(of: try context.path("id"))))
    }

    @Sendable func signal(_ request: Request, context: APIRequestContext) async throws -> Response {
        var request = request
        let id = try context.path("id")
        let name = try context.path("name")
        let body = try await request.jsonObject(context: context, allowEmpty: true).onlyFields(["payload"], hint: "a signal's data goes under payload, e.g. {\"payload\": {...}}")
        let workflow = try await engine.reads.workflow(id)
        if let roles = engine.definition(workflow.type)?.signalRoles?[name], let role = context.key?.role, !roles.contains(role.rawValue) {
            throw APIError(.forbidden, "auth.forbidden", "the \(name) signal of a \(workflow.type) needs the \(roles.joined(separator: " or ")) role")
        }
        let delivery = try await engine.lifecycle.signal(
            workflowID: id, name: name, payload: body["payload"] ?? .emptyObject, idempotencyKey: try request.idempotencyKey())
        return .json(["workflow_id": .string(id), "signal": .string(name), "delivery": .string(delivery.rawValue)], status: .accepted)
    }

    @Sendable func cancel(_ request: Request, context: APIRequestContext) async throws -> Response {
        var request = request
        let body = try await request.jsonObject(context: context, allowEmpty: true).onlyFields(["reason"])
        let workflow = try await engine.lifecycle.cancel(
            workflowID: try context.path("id"), reason: body["reason"]?.stringValue, by: context.key?.name ?? "api")
        return .json(Representation.workflow(workflow))
    }
}
