import Foundation
import PostgresNIO

/// Filters for listing dead letters; `nil` matches everything.
public struct DeadLetterFilter: Sendable, Hashable {
    public var workflowID: String?
    public var workflowType: String?
    public var activity: String?
    public var errorCode: String?
    public var status: DeadLetterRecord.Status?

    public init(workflowID: String? = nil, workflowType: String? = nil, activity: String? = nil, errorCode: String? = nil, status: DeadLetterRecord.Status? = nil) {
        self.workflowID = workflowID
        self.workflowType = workflowType
        self.activity = activity
        self.errorCode = errorCode
        self.status = status
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
    func resolveDeadLetter(_ id: Int64, as status: DeadLetterRecord.Status, by actor: String, now: Date, on connection: PostgresConnection) async throws -> DeadLetterRecord? {
        let rows = try await connection.query(
            """
            UPDATE orchestrator.dead_letters SET status = \(status.rawValue), resolved_at = \(now), resolved_by = \(actor)
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
    /// number goes on), under the activity limit that applies now.
    func requeueTask(_ taskID: Int64, now: Date, on connection: PostgresConnection) async throws -> Bool {
        let rows = try await connection.query(
            """
            UPDATE orchestrator.tasks SET status = 'ready', attempt = 0, errors = '[]', run_at = \(now), completed_at = NULL,
                lease_owner = NULL, lease_expires_at = NULL, activity_limit = orchestrator.activity_limit_of(activity)
            WHERE id = \(taskID) AND status = 'dead'
            RETURNING 1
            """, logger: logger)
        for try await _ in rows { return true }
        return false
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
            SELECT \(unescaped: Self.deadLetterColumns) FROM orchestrator.dead_letters
            WHERE (\(filter.workflowID)::text IS NULL OR workflow_id = \(filter.workflowID))
              AND (\(filter.workflowType)::text IS NULL OR workflow_type = \(filter.workflowType))
              AND (\(filter.activity)::text IS NULL OR activity = \(filter.activity))
              AND (\(filter.errorCode)::text IS NULL OR error_code = \(filter.errorCode))
              AND (\(filter.status?.rawValue)::text IS NULL OR status = \(filter.status?.rawValue))
              AND (\(cursor)::int8 IS NULL OR id < \(cursor))
            ORDER BY id DESC LIMIT \(limit)
            """, logger: logger)
        var records: [DeadLetterRecord] = []
        for try await row in rows { records.append(try Self.deadLetterRecord(row)) }
        return records
    }

    static let deadLetterColumns =
        "id, task_id, workflow_id, workflow_type, state, activity, error_code, status, attempts::text, created_at, resolved_at, resolved_by"

    static func deadLetterRecord(_ row: PostgresRow) throws -> DeadLetterRecord {
        let (id, taskID, workflowID, workflowType, state, activity, errorCode, status, attempts, createdAt, resolvedAt, resolvedBy) =
            try row.decode((Int64, Int64, String, String, String, String, String, String, String, Date, Date?, String?).self)
        return DeadLetterRecord(
            id: id, taskID: taskID, workflowID: workflowID, workflowType: workflowType, state: state, activity: activity,
            errorCode: errorCode, status: DeadLetterRecord.Status(rawValue: status) ?? .open,
            attempts: try JSONValue(json: attempts).decode([AttemptError].self), createdAt: createdAt, resolvedAt: resolvedAt,
            resolvedBy: resolvedBy)
    }
}
