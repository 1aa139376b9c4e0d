import Foundation
import PostgresNIO

/// Filters for listing and resolving dead letters; `nil` matches everything.
public struct DeadLetterFilter: Sendable, Hashable {
    public var workflowID: String?
    public var workflowType: String?
    public var activity: String?
    public var errorCode: String?
    public var status: DeadLetterRecord.Status?
    public var fingerprint: String?
    /// Text the last error message contains, case ignored.
    public var text: String?
    public var createdAfter: Date?
    public var createdBefore: Date?
    /// Only dead letters up to this id: what a dry run counted, not what arrived since.
    public var upToID: Int64?

    public init(
        workflowID: String? = nil, workflowType: String? = nil, activity: String? = nil, errorCode: String? = nil,
        status: DeadLetterRecord.Status? = nil, fingerprint: String? = nil, text: String? = nil, createdAfter: Date? = nil,
        createdBefore: Date? = nil, upToID: Int64? = nil
    ) {
        self.workflowID = workflowID
        self.workflowType = workflowType
        self.activity = activity
        self.errorCode = errorCode
        self.status = status
        self.fingerprint = fingerprint
        self.text = text
        self.createdAfter = createdAfter
        self.createdBefore = createdBefore
        self.upToID = upToID
    }
}

extension DeadLetterFilter {
    /// The filter as recorded with a bulk action: only the fields given.
    public var json: JSONValue {
        var fields: [String: JSONValue] = [:]
        for (key, value) in [("workflow_id", workflowID), ("workflow_type", workflowType), ("activity", activity), ("error_code", errorCode),
                             ("status", status?.rawValue), ("fingerprint", fingerprint), ("text", text)] {
            if let value { fields[key] = .string(value) }
        }
        let time = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        if let createdAfter { fields["created_after"] = .string(time.format(createdAfter)) }
        if let createdBefore { fields["created_before"] = .string(time.format(createdBefore)) }
        if let upToID { fields["up_to_id"] = .string(String(upToID)) }
        return .object(fields)
    }
}

extension WorkflowStore {
    func insertDeadLetter(task: ClaimedTask, workflowType: String, errorCode: String, now: Date, on connection: PostgresConnection) async throws -> Int64 {
        let rows = try await connection.query(
            """
            INSERT INTO orchestrator.dead_letters (task_id, workflow_id, workflow_type, state, activity, error_code, status, attempts, created_at)
            SELECT id, workflow_id, \(workflowType), state, activity, \(errorCode), 'open', errors, \(now)
            FROM orchestrator.tasks WHERE id = \(task.id)
            RETURNING id
            """, logger: logger)
        for try await id in rows.decode(Int64.self) { return id }
        throw OrchestratorError(.database, "task \(task.id) vanished while dead-lettering it")
    }

    /// Marks an open dead letter resolved; `nil` when it is not open (resolved before, or absent).
    func resolveDeadLetter(
        _ id: Int64, as status: DeadLetterRecord.Status, by actor: String, reason: String?, now: Date, on connection: PostgresConnection
    ) async throws -> DeadLetterRecord? {
        let rows = try await connection.query(
            """
            UPDATE orchestrator.dead_letters SET status = \(status.rawValue), resolved_at = \(now), resolved_by = \(actor),
                resolution_reason = \(reason)
            WHERE id = \(id) AND status = 'open'
            RETURNING \(unescaped: Self.deadLetterColumns)
            """, logger: logger)
        for try await row in rows { return try Self.deadLetterRecord(row) }
        return nil
    }

    /// Discards every open dead letter of an instance (it was cancelled, or left the state they
    /// belong to); returns their ids.
    func discardDeadLetters(workflowID: String, by actor: String, now: Date, on connection: PostgresConnection) async throws -> [Int64] {
        let rows = try await connection.query(
            """
            UPDATE orchestrator.dead_letters SET status = 'discarded', resolved_at = \(now), resolved_by = \(actor)
            WHERE workflow_id = \(workflowID) AND status = 'open'
            RETURNING id
            """, logger: logger)
        var ids: [Int64] = []
        for try await id in rows.decode(Int64.self) { ids.append(id) }
        return ids.sorted()
    }

    func openDeadLetterCount(workflowID: String, on connection: PostgresConnection) async throws -> Int {
        let rows = try await connection.query(
            "SELECT count(*) FROM orchestrator.dead_letters WHERE workflow_id = \(workflowID) AND status = 'open'", logger: logger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }

    /// Puts a dead task back in the queue with fresh attempts (its key stays the same, its lease
    /// number goes on), under the activity limit that applies now; `input` replaces its input.
    /// Returns the task's visit and map item index, or `nil` when it is no longer dead.
    func requeueTask(_ taskID: Int64, input: JSONValue?, now: Date, on connection: PostgresConnection) async throws -> (visit: Int64, itemIndex: Int?)? {
        let rows = try await connection.query(
            """
            UPDATE orchestrator.tasks SET status = 'ready', attempt = 0, errors = '[]', run_at = \(now), completed_at = NULL,
                lease_owner = NULL, lease_expires_at = NULL, activity_limit = orchestrator.activity_limit_of(activity),
                input = coalesce(\(input?.jsonText)::jsonb, input)
            WHERE id = \(taskID) AND status = 'dead'
            RETURNING visit, item_index
            """, logger: logger)
        for try await (visit, itemIndex) in rows.decode((Int64, Int32?).self) { return (visit, itemIndex.map(Int.init)) }
        return nil
    }

    /// The input of a task.
    func taskInput(_ taskID: Int64, on connection: PostgresConnection) async throws -> JSONValue? {
        let rows = try await connection.query("SELECT input::text FROM orchestrator.tasks WHERE id = \(taskID)", logger: logger)
        for try await text in rows.decode(String.self) { return try JSONValue(json: text) }
        return nil
    }

    public func deadLetter(_ id: Int64, on connection: PostgresConnection) async throws -> DeadLetterRecord? {
        let rows = try await connection.query(
            "SELECT \(unescaped: Self.deadLetterColumns) FROM orchestrator.dead_letters WHERE id = \(id)", logger: logger)
        for try await row in rows { return try Self.deadLetterRecord(row) }
        return nil
    }

    /// Dead letters, newest first, with ids below `cursor`.
    public func deadLetters(_ filter: DeadLetterFilter, limit: Int, before cursor: Int64?, on connection: PostgresConnection) async throws -> [DeadLetterRecord] {
        let rows = try await connection.query(
            """
            SELECT \(unescaped: Self.deadLetterColumns) FROM orchestrator.dead_letters d
            WHERE \(matching: filter) AND (\(cursor)::int8 IS NULL OR id < \(cursor))
            ORDER BY id DESC LIMIT \(limit)
            """, logger: logger)
        var records: [DeadLetterRecord] = []
        for try await row in rows { records.append(try Self.deadLetterRecord(row)) }
        return records
    }

    /// The ids of the open dead letters `filter` matches, oldest first, at most `limit`; how many
    /// it matches in all; and the newest of them.
    func openDeadLetterIDs(_ filter: DeadLetterFilter, limit: Int, on connection: PostgresConnection) async throws -> (ids: [Int64], total: Int, newest: Int64?) {
        var open = filter
        open.status = .open
        let rows = try await connection.query(
            """
            WITH matched AS (SELECT id FROM orchestrator.dead_letters d WHERE \(matching: open))
            SELECT (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM (SELECT id FROM matched ORDER BY id LIMIT \(limit)) first),
                   (SELECT count(*) FROM matched), (SELECT max(id) FROM matched)
            """, logger: logger)
        for try await (ids, total, newest) in rows.decode(([Int64], Int64, Int64?).self) { return (ids, Int(total), newest) }
        return ([], 0, nil)
    }

    /// Open dead letters grouped by fingerprint, the largest group first.
    public func deadLetterGroups(_ filter: DeadLetterFilter, limit: Int, on connection: PostgresConnection) async throws -> [DeadLetterGroup] {
        var open = filter
        open.status = .open
        let rows = try await connection.query(
            """
            SELECT fingerprint, min(activity), min(error_code), min(message_pattern),
                   (array_agg(error_message ORDER BY id DESC))[1], array_agg(DISTINCT workflow_type ORDER BY workflow_type),
                   count(*), min(created_at), max(created_at)
            FROM orchestrator.dead_letters d WHERE \(matching: open)
            GROUP BY fingerprint ORDER BY count(*) DESC, max(created_at) DESC LIMIT \(limit)
            """, logger: logger)
        var groups: [DeadLetterGroup] = []
        for try await (fingerprint, activity, errorCode, pattern, sample, types, count, first, last) in rows.decode(
            (String, String, String, String, String, [String], Int64, Date, Date).self)
        {
            groups.append(DeadLetterGroup(
                fingerprint: fingerprint, activity: activity, errorCode: errorCode, messagePattern: pattern, sampleMessage: sample,
                workflowTypes: types, count: Int(count), firstSeen: first, lastSeen: last))
        }
        return groups
    }

    /// Records one bulk resolution request: who, why, the filter, what it matched and did.
    func recordDeadLetterAction(
        _ resolution: DeadLetterResolution, filter: JSONValue, inputPatch: JSONValue?, by actor: String, reason: String, now: Date,
        on connection: PostgresConnection
    ) async throws {
        try await connection.query(
            """
            INSERT INTO orchestrator.dead_letter_actions (action, actor, reason, filter, input_patch, matched, resolved, failed, at)
            VALUES (\(resolution.action.rawValue), \(actor), \(reason), \(filter.jsonText)::jsonb, \(inputPatch?.jsonText)::jsonb,
                    \(resolution.matched), \(resolution.resolved), \(resolution.failures.count), \(now))
            """, logger: logger)
    }

    static let deadLetterColumns =
        "id, task_id, workflow_id, workflow_type, state, activity, error_code, status, attempts::text, created_at, resolved_at, resolved_by, resolution_reason, error_message, message_pattern, fingerprint"

    static func deadLetterRecord(_ row: PostgresRow) throws -> DeadLetterRecord {
        let (id, taskID, workflowID, workflowType, state, activity, errorCode, status, attempts, createdAt, resolvedAt, resolvedBy, reason, message, pattern, fingerprint) =
            try row.decode((Int64, Int64, String, String, String, String, String, String, String, Date, Date?, String?, String?, String, String, String).self)
        return DeadLetterRecord(
            id: id, taskID: taskID, workflowID: workflowID, workflowType: workflowType, state: state, activity: activity,
            errorCode: errorCode, status: DeadLetterRecord.Status(rawValue: status) ?? .open,
            attempts: try JSONValue(json: attempts).decode([AttemptError].self), createdAt: createdAt, resolvedAt: resolvedAt,
            resolvedBy: resolvedBy, resolutionReason: reason, errorMessage: message, messagePattern: pattern, fingerprint: fingerprint)
    }
}

extension PostgresQuery.StringInterpolation {
    /// The conditions of `filter` over `orchestrator.dead_letters d`, each only when given (so the
    /// planner sees plain predicates), every value a bind parameter.
    mutating func appendInterpolation(matching filter: DeadLetterFilter) {
        appendLiteral("TRUE")
        appendCondition("d.workflow_id =", filter.workflowID)
        appendCondition("d.workflow_type =", filter.workflowType)
        appendCondition("d.activity =", filter.activity)
        appendCondition("d.error_code =", filter.errorCode)
        appendCondition("d.status =", filter.status?.rawValue)
        appendCondition("d.fingerprint =", filter.fingerprint)
        if let text = filter.text {
            appendLiteral(" AND strpos(lower(d.error_message), lower(")
            appendInterpolation(text)
            appendLiteral(")) > 0")
        }
        appendCondition("d.created_at >=", filter.createdAfter)
        appendCondition("d.created_at <", filter.createdBefore)
        appendCondition("d.id <=", filter.upToID)
    }
}
