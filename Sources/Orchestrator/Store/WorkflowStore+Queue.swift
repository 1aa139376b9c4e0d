import Foundation
import PostgresNIO

/// A task a worker holds under a lease.
public struct ClaimedTask: Sendable, Hashable {
    public var id: Int64
    public var workflowID: String
    public var workflowType: String
    public var state: String
    public var visit: Int64
    public var isTimer: Bool
    public var activity: String
    public var itemIndex: Int?
    public var input: JSONValue
    public var attempt: Int
    public var timeout: Duration
    public var idempotencyKey: String
    public var correlationID: String?
    public var leaseOwner: String
    /// When the attempt became due (its `run_at`); `nil` where the caller did not load it.
    public var dueAt: Date? = nil
}

extension WorkflowStore {
    /// Claims up to `limit` due tasks in one statement: walks the partial claim index in order,
    /// skips rows other workers hold, and leases each for its timeout plus `grace`.
    func claim(owner: String, limit: Int, concurrencyKey: String?, now: Date, grace: Duration, on connection: PostgresConnection) async throws -> [ClaimedTask] {
        let graceMilliseconds = grace.milliseconds
        // Unlimited tasks use the `tasks_claim` partial index, a group's tasks `tasks_claim_limited`.
        let keyColumn = concurrencyKey == nil ? "concurrency_key IS NULL AND ''" : "concurrency_key"
        let query: PostgresQuery = 
            """
            WITH picked AS (
                SELECT id FROM orchestrator.tasks
                WHERE status IN ('ready', 'failed') AND \(unescaped: keyColumn) = \(concurrencyKey ?? "") AND run_at <= \(now)
                ORDER BY run_at, id LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            UPDATE orchestrator.tasks t SET status = 'running', attempt = t.attempt + 1, lease_owner = \(owner),
                lease_expires_at = \(now) + (t.timeout_ms + \(graceMilliseconds)) * interval '1 millisecond',
                started_at = \(now)
            FROM picked, orchestrator.workflows w
            WHERE t.id = picked.id AND w.id = t.workflow_id
            RETURNING t.id, t.workflow_id, w.type, t.state, t.visit, t.kind, t.activity, t.item_index, t.input::text,
                      t.attempt, t.timeout_ms, t.idempotency_key, t.correlation_id, t.run_at
            """
        let rows =
            concurrencyKey == nil
            ? try await connection.prepared(HotQuery.Claim.self, query, logger: logger)
            : try await connection.prepared(HotQuery.ClaimGroup.self, query, logger: logger)
        var tasks: [ClaimedTask] = []
        for try await row in rows {
            let (id, workflowID, type, state, visit, kind, activity, itemIndex, input, attempt, timeout, key, correlationID, dueAt) =
                try row.decode((Int64, String, String, String, Int64, String, String, Int32?, String, Int32, Int64, String, String?, Date).self)
            tasks.append(ClaimedTask(
                id: id, workflowID: workflowID, workflowType: type, state: state, visit: visit, isTimer: kind == "timer",
                activity: activity, itemIndex: itemIndex.map(Int.init), input: try JSONValue(json: input), attempt: Int(attempt),
                timeout: .milliseconds(timeout), idempotencyKey: key, correlationID: correlationID, leaseOwner: owner, dueAt: dueAt))
        }
        return tasks
    }

    /// Running tasks of `concurrencyKey` and its limit, with the limit row locked so claimers of one
    /// group queue up behind each other and never overshoot.
    func lockConcurrencyGroup(_ key: String, on connection: PostgresConnection) async throws -> (limit: Int, running: Int)? {
        let rows = try await connection.query(
            """
            SELECT l.max_running,
                   (SELECT count(*) FROM orchestrator.tasks WHERE status = 'running' AND concurrency_key = l.key)
            FROM orchestrator.concurrency_limits l WHERE l.key = \(key) FOR UPDATE OF l
            """, logger: logger)
        for try await (limit, running) in rows.decode((Int32, Int64).self) { return (Int(limit), Int(running)) }
        return nil
    }

    func saveConcurrencyLimits(_ limits: [ActivityLimit], on connection: PostgresConnection) async throws {
        for limit in limits {
            try await connection.query(
                """
                INSERT INTO orchestrator.concurrency_limits (key, pattern, max_running)
                VALUES (\(limit.pattern.pattern), \(limit.pattern.pattern), \(Int32(limit.maxRunning)))
                ON CONFLICT (key) DO UPDATE SET max_running = EXCLUDED.max_running
                """, logger: logger)
        }
    }

    /// Ends an attempt if the caller still holds the lease (owner and attempt match): the fence.
    /// Returns when the attempt started, or `nil` when the lease was lost.
    func finishAttempt(
        _ task: ClaimedTask, status: TaskStatus, result: JSONValue?, error: AttemptError?, retryAt: Date?, now: Date,
        on connection: PostgresConnection
    ) async throws -> Date? {
        let errorsText = try error.map { try JSONValue(encoding: [$0]).jsonText } ?? "[]"
        let rows = try await connection.prepared(HotQuery.FinishAttempt.self,
            """
            UPDATE orchestrator.tasks SET status = \(status.rawValue), result = nullif(\(result?.jsonText ?? ""), '')::jsonb,
                errors = errors || \(errorsText)::jsonb,
                run_at = CASE WHEN \(retryAt != nil) THEN \(retryAt ?? now)::timestamptz ELSE run_at END,
                lease_owner = NULL, lease_expires_at = NULL,
                completed_at = CASE WHEN \(status.rawValue) IN ('completed', 'dead') THEN \(now)::timestamptz END
            WHERE id = \(task.id) AND status = 'running' AND lease_owner = \(task.leaseOwner) AND attempt = \(Int32(task.attempt))
            RETURNING started_at
            """, logger: logger)
        for try await startedAt in rows.decode(Date.self) { return startedAt }
        return nil
    }

    /// Tasks whose lease expired before `now` (their worker died or hung).
    func expiredLeases(now: Date, limit: Int, on connection: PostgresConnection) async throws -> [ClaimedTask] {
        let rows = try await connection.query(
            """
            SELECT t.id, t.workflow_id, w.type, t.state, t.visit, t.kind, t.activity, t.item_index, t.attempt, t.timeout_ms,
                   t.idempotency_key, t.correlation_id, t.lease_owner
            FROM orchestrator.tasks t JOIN orchestrator.workflows w ON w.id = t.workflow_id
            WHERE t.status = 'running' AND t.lease_expires_at < \(now)
            ORDER BY t.lease_expires_at LIMIT \(limit)
            """, logger: logger)
        var tasks: [ClaimedTask] = []
        for try await row in rows {
            let (id, workflowID, type, state, visit, kind, activity, itemIndex, attempt, timeout, key, correlationID, owner) =
                try row.decode((Int64, String, String, String, Int64, String, String, Int32?, Int32, Int64, String, String?, String?).self)
            tasks.append(ClaimedTask(
                id: id, workflowID: workflowID, workflowType: type, state: state, visit: visit, isTimer: kind == "timer",
                activity: activity, itemIndex: itemIndex.map(Int.init), input: .null, attempt: Int(attempt),
                timeout: .milliseconds(timeout), idempotencyKey: key, correlationID: correlationID, leaseOwner: owner ?? ""))
        }
        return tasks
    }

    /// Cancels the unfinished tasks of an instance (of one visit, or all); running ones lose their fence.
    func cancelTasks(workflowID: String, visit: Int64?, kind: NewTask.Kind? = nil, now: Date, on connection: PostgresConnection) async throws {
        try await connection.query(
            """
            UPDATE orchestrator.tasks SET status = 'cancelled', lease_owner = NULL, lease_expires_at = NULL, completed_at = \(now)
            WHERE workflow_id = \(workflowID) AND status IN ('ready', 'failed', 'running')
              AND (\(visit)::int8 IS NULL OR visit = \(visit)) AND (\(kind?.rawValue)::text IS NULL OR kind = \(kind?.rawValue))
            """, logger: logger)
    }

    /// Progress of a map visit: results of completed items by index, and how many items have a task.
    func mapProgress(workflowID: String, visit: Int64, on connection: PostgresConnection) async throws -> (results: [Int: JSONValue], scheduled: Int, dead: Int) {
        let rows = try await connection.query(
            """
            SELECT item_index, status, result::text FROM orchestrator.tasks
            WHERE workflow_id = \(workflowID) AND visit = \(visit) AND kind = 'activity'
            """, logger: logger)
        var results: [Int: JSONValue] = [:]
        var scheduled = 0
        var dead = 0
        for try await (index, status, result) in rows.decode((Int32?, String, String?).self) {
            scheduled += 1
            if status == TaskStatus.dead.rawValue { dead += 1 }
            if status == TaskStatus.completed.rawValue, let index {
                results[Int(index)] = try result.map { try JSONValue(json: $0) } ?? .null
            }
        }
        return (results, scheduled, dead)
    }
}
