import Foundation
import Hummingbird
import Orchestrator

/// Ops routes: inspect dead letters, one by one or grouped by cause, and resolve them, one or
/// every one a filter matches.
struct DeadLetterRoutes {
    let engine: Engine

    var endpoints: [Endpoint] {
        [
            Endpoint(.get, "/v1/dead-letters", list),
            Endpoint(.get, "/v1/dead-letters/groups", groups),
            Endpoint(.post, "/v1/dead-letters/retry", retryAll),
            Endpoint(.post, "/v1/dead-letters/discard", discardAll),
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
        var filter = try Self.filter(from: request)
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
        let fetched = try await engine.operations.deadLetters(filter, limit: limit + 1, before: before)
        return .json(Cursor.page(Array(fetched.prefix(limit)), more: fetched.count > limit, key: { String($0.id) }, json: Representation.deadLetter))
    }

    @Sendable func groups(_ request: Request, context: APIRequestContext) async throws -> Response {
        let groups = try await engine.operations.deadLetterGroups(try Self.filter(from: request), limit: try request.pageLimit())
        return .json(["items": .array(groups.map(Representation.deadLetterGroup))])
    }

    @Sendable func get(_ request: Request, context: APIRequestContext) async throws -> Response {
        .json(Representation.deadLetter(try await engine.operations.deadLetter(try id(context))))
    }

    @Sendable func retry(_ request: Request, context: APIRequestContext) async throws -> Response {
        var request = request
        let body = try await request.jsonObject(context: context, allowEmpty: true).onlyFields(["reason", "input_patch"])
        let letter = try await engine.operations.retryDeadLetter(
            try id(context), by: context.key?.name ?? "api", reason: try Self.reason(body, required: false), inputPatch: body["input_patch"])
        return .json(Representation.deadLetter(letter))
    }

    @Sendable func discard(_ request: Request, context: APIRequestContext) async throws -> Response {
        var request = request
        let body = try await request.jsonObject(context: context, allowEmpty: true).onlyFields(["reason"])
        let letter = try await engine.operations.discardDeadLetter(try id(context), by: context.key?.name ?? "api", reason: try Self.reason(body, required: false))
        return .json(Representation.deadLetter(letter))
    }

    @Sendable func retryAll(_ request: Request, context: APIRequestContext) async throws -> Response {
        try await resolveAll(.retry, request, context)
    }

    @Sendable func discardAll(_ request: Request, context: APIRequestContext) async throws -> Response {
        try await resolveAll(.discard, request, context)
    }

    /// `{filter, dry_run?, reason, input_patch?, limit?}`: at most `limit` (default 1,000) per call;
    /// the answer's `remaining` says whether to call again with the same filter and `up_to_id`.
    func resolveAll(_ action: DeadLetterResolution.Action, _ request: Request, _ context: APIRequestContext) async throws -> Response {
        var request = request
        let allowed: Set<String> = action == .retry ? ["filter", "dry_run", "reason", "input_patch", "limit"] : ["filter", "dry_run", "reason", "limit"]
        let body = try await request.jsonObject(context: context).onlyFields(
            allowed, hint: "the dead letters to resolve are given as a filter, e.g. {\"filter\": {\"fingerprint\": \"…\"}, \"reason\": \"…\"}")
        guard let filterFields = body["filter"]?.objectValue else {
            throw APIError(.unprocessableContent, "request.invalid", "filter is required: an object of workflow_type, activity, error_code, fingerprint, text, workflow_id, created_after, created_before, up_to_id ({} for every open dead letter)")
        }
        let filter = try Self.filter(from: filterFields)
        let dryRun = try Self.flag(body["dry_run"], named: "dry_run")
        let limit = try body["limit"].map { value in
            guard let number = value.numberValue, let limit = Int(exactly: number), (1...10_000).contains(limit) else {
                throw APIError(.unprocessableContent, "request.invalid", "limit must be a whole number from 1 to 10000")
            }
            return limit
        } ?? 1000
        let resolution = try await engine.operations.resolveDeadLetters(
            action, matching: filter, by: context.key?.name ?? "api", reason: try Self.reason(body, required: !dryRun) ?? "",
            inputPatch: body["input_patch"], dryRun: dryRun, limit: limit)
        return .json(Representation.resolution(resolution))
    }

    static func reason(_ body: [String: JSONValue], required: Bool) throws -> String? {
        guard let value = body["reason"] else {
            if required { throw APIError(.unprocessableContent, "request.invalid", "reason is required: say why, it is kept with every dead letter resolved") }
            return nil
        }
        guard let text = value.stringValue, (1...1000).contains(text.count), !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw APIError(.unprocessableContent, "request.invalid", "reason must be a text of 1 to 1000 characters")
        }
        return text
    }

    static func flag(_ value: JSONValue?, named name: String) throws -> Bool {
        guard let value else { return false }
        guard case .bool(let flag) = value else { throw APIError(.unprocessableContent, "request.invalid", "\(name) must be true or false") }
        return flag
    }

    static let filterFields: Set<String> = [
        "workflow_id", "workflow_type", "activity", "error_code", "fingerprint", "text", "created_after", "created_before", "up_to_id",
    ]

    /// A filter from the query string (`GET` routes).
    static func filter(from request: Request) throws -> DeadLetterFilter {
        var fields: [String: JSONValue] = [:]
        for name in filterFields {
            if let value = try request.query(name) { fields[name] = .string(value) }
        }
        do {
            return try filter(from: fields)
        } catch let error as APIError {
            throw APIError.badRequest(error.code, error.message)
        }
    }

    /// A filter from a JSON object of strings; times are ISO-8601, `up_to_id` a dead letter's id.
    static func filter(from fields: [String: JSONValue]) throws -> DeadLetterFilter {
        _ = try fields.onlyFields(filterFields)
        func text(_ name: String) throws -> String? {
            guard let value = fields[name] else { return nil }
            guard let text = value.stringValue, !text.isEmpty, text.utf8.count <= 1000 else {
                throw APIError(.unprocessableContent, "request.invalid_filter", "\(name) must be a text of 1 to 1000 bytes")
            }
            return text
        }
        func time(_ name: String) throws -> Date? {
            guard let value = try text(name) else { return nil }
            guard let date = Representation.date(value) else {
                throw APIError(.unprocessableContent, "request.invalid_filter", "\(name) must be an ISO-8601 time such as 2026-11-26T10:00:00Z")
            }
            return date
        }
        var upToID: Int64?
        if let value = try text("up_to_id") {
            guard let id = Int64(value) else { throw APIError(.unprocessableContent, "request.invalid_filter", "up_to_id must be a dead letter's id") }
            upToID = id
        }
        return DeadLetterFilter(
            workflowID: try text("workflow_id"), workflowType: try text("workflow_type"), activity: try text("activity"),
            errorCode: try text("error_code"), fingerprint: try text("fingerprint"), text: try text("text"),
            createdAfter: try time("created_after"), createdBefore: try time("created_before"), upToID: upToID)
    }
}
