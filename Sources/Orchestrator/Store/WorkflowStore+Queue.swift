import Foundation
import PostgresNIO

/// What a task is: an activity to run, or something the engine delivers when it is due.
public enum TaskKind: String, Sendable, Hashable {
    case activity
    /// A durable timer (`sleep`, a `wait_for`'s deadline).
    case timer
    /// A child workflow ended: its result, for the parent's `start_workflow` wait.
    case childResult = "child_result"
    /// A `send_signal` state's signal, for its target workflow.
    case signal
}

/// A task a worker holds under a lease.
public struct ClaimedTask: Sendable, Hashable {
    public var id: Int64
    public var workflowID: String
    public var workflowType: String
    public var state: String
    public var visit: Int64
    public var kind: TaskKind
    public var activity: String
    public var itemIndex: Int?
    public var input: JSONValue
    public var attempt: Int
    public var timeout: Duration
    public var idempotencyKey: String
    public var correlationID: String?
    public var leaseOwner: String
    /// Which claim of the task this is; the fence compares it, so a stale attempt never passes.
    public var leaseNumber: Int
    /// When the attempt became due (its `run_at`); `nil` where the caller did not load it.
    public var dueAt: Date? = nil

    var attemptID: AttemptID { AttemptID(taskID: id, leaseNumber: leaseNumber) }
}

/// One attempt of a task: the lease it ran under tells it from the task's other attempts.
struct AttemptID: Sendable, Hashable {
    var taskID: Int64
    var leaseNumber: Int
}

/// Which ready tasks a claim takes: those outside any activity limit, or those of one limit.
enum ClaimSource: Sendable, Hashable {
    case unlimited
    case limited(pattern: String)

    /// The limit's pattern, as tasks carry it in `activity_limit`.
    var pattern: String? {
        guard case .limited(let pattern) = self else { return nil }
        return pattern
    }
}

extension WorkflowStore {
    /// Claims up to `limit` due tasks of `source` in one statement: walks the source's claim index
    /// in order (`tasks_claim` for tasks outside any activity limit, `tasks_claim_limited` for a
    /// limit's), skips rows other workers hold and activities this worker lacks, and leases each
    /// for its timeout plus `grace`. Each source has its own literal statement, so each plan has
    /// one index to use, whatever the statistics say about the queue.
    func claim(
        _ source: ClaimSource, owner: String, limit: Int, activities: [String]?, now: Date, grace: Duration, on connection: PostgresConnection
    ) async throws -> [(task: ClaimedTask, snapshot: InstanceSnapshot)] {
        let anyActivity = activities == nil
        let names = activities ?? []
        let rows: AsyncThrowingMapSequence<PostgresRowSequence, PostgresRow>
        switch source {
        case .unlimited:
            rows = try await connection.prepared(HotQuery.ClaimUnlimited.self,
                """
                WITH picked AS (
                    SELECT id FROM orchestrator.tasks
                    WHERE status IN ('ready', 'failed') AND activity_limit IS NULL AND run_at <= \(now)
                      AND (\(anyActivity) OR kind <> 'activity' OR activity = ANY(\(names)::text[]))
                    ORDER BY run_at, id LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                \(leasingPickedTasksTo: owner, now: now, grace: grace)
                """, logger: logger)
        case .limited(let pattern):
            rows = try await connection.prepared(HotQuery.ClaimLimited.self,
                """
                WITH picked AS (
                    SELECT id FROM orchestrator.tasks
                    WHERE status IN ('ready', 'failed') AND activity_limit = \(pattern) AND run_at <= \(now)
                      AND (\(anyActivity) OR activity = ANY(\(names)::text[]))
                    ORDER BY run_at, id LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                \(leasingPickedTasksTo: owner, now: now, grace: grace)
                """, logger: logger)
        }
        var tasks: [(task: ClaimedTask, snapshot: InstanceSnapshot)] = []
        for try await row in rows {
            let (id, workflowID, type, state, visit, kind, activity, itemIndex, input, attempt, timeout, key, correlationID, leaseNumber, dueAt, rowVersion) =
                try row.decode((Int64, String, String, String, Int64, String, String, Int32?, String, Int32, Int64, String, String?, Int32, Date, String).self)
            tasks.append((
                ClaimedTask(
                    id: id, workflowID: workflowID, workflowType: type, state: state, visit: visit, kind: TaskKind(rawValue: kind) ?? .activity,
                    activity: activity, itemIndex: itemIndex.map(Int.init), input: try JSONValue(json: input), attempt: Int(attempt),
                    timeout: .milliseconds(timeout), idempotencyKey: key, correlationID: correlationID, leaseOwner: owner,
                    leaseNumber: Int(leaseNumber), dueAt: dueAt),
                InstanceSnapshot(workflow: try Self.lockedWorkflow(row.makeRandomAccess(), from: 16, now: now), rowVersion: rowVersion, startedAt: now)))
        }
        return tasks
    }

    /// Applies the verdicts on a batch of attempts in one statement, each only if its lease is
    /// still current (running, same lease number): the fence. Returns when each attempt that held
    /// its lease started; an attempt missing there lost its lease and wrote nothing.
    /// Rows are found by primary key, locked in id order, and the lease checked on the row found
    /// (a status in the `WHERE` would let the planner walk a partial index of running tasks
    /// instead). Two attempts of one task in a batch are told apart by their lease numbers.
    func endAttempts(_ attempts: [(task: ClaimedTask, verdict: AttemptVerdict)], now: Date, on connection: PostgresConnection) async throws -> [AttemptID: Date] {
        guard !attempts.isEmpty else { return [:] }
        // Each verdict's fields go as parallel arrays; `result` means something for a completed
        // attempt only, `retry_at` for a retried one (the status says which).
        let results = attempts.map { attempt -> String in
            if case .completed(let result) = attempt.verdict { return result.jsonText }
            return "null"
        }
        let errors = try attempts.map { attempt -> String in
            guard let error = attempt.verdict.error else { return "[]" }
            return try JSONValue(encoding: [AttemptError(attempt: attempt.task.attempt, code: error.code, message: error.message, at: now)]).jsonText
        }
        let retryAts = attempts.map { attempt -> Date in
            if case .retry(_, let at, _) = attempt.verdict { return at }
            return now
        }
        let rows = try await connection.prepared(HotQuery.EndAttempts.self,
            """
            WITH ended AS (
                SELECT * FROM unnest(\(attempts.map(\.task.id))::int8[], \(attempts.map { Int32($0.task.leaseNumber) })::int4[],
                                     \(attempts.map(\.verdict.taskStatus.rawValue))::text[], \(results)::text[], \(errors)::text[],
                                     \(retryAts)::timestamptz[])
                    AS e(id, lease_number, status, result, errors, retry_at)),
            locked AS (
                SELECT id, lease_number, status = 'running' AS running FROM orchestrator.tasks
                WHERE id = ANY(\(attempts.map(\.task.id))::int8[])
                ORDER BY id FOR UPDATE)
            UPDATE orchestrator.tasks t SET status = e.status,
                result = CASE WHEN e.status = 'completed' THEN e.result::jsonb END,
                errors = t.errors || e.errors::jsonb,
                run_at = CASE WHEN e.status = 'failed' THEN e.retry_at ELSE t.run_at END,
                lease_owner = NULL, lease_expires_at = NULL,
                completed_at = CASE WHEN e.status IN ('completed', 'dead') THEN \(now)::timestamptz END
            FROM locked l JOIN ended e ON e.id = l.id AND e.lease_number = l.lease_number
            WHERE t.id = l.id AND l.running
            RETURNING t.id, t.lease_number, t.started_at
            """, logger: logger)
        var started: [AttemptID: Date] = [:]
        for try await (id, leaseNumber, startedAt) in rows.decode((Int64, Int32, Date).self) {
            started[AttemptID(taskID: id, leaseNumber: Int(leaseNumber))] = startedAt
        }
        return started
    }

    /// Locks the task row while its lease is current: the fence taken before a transactional
    /// activity writes anything. `false` when the lease was lost. Found by primary key, like the
    /// fence of `endAttempts`.
    func lockLease(_ task: ClaimedTask, on connection: PostgresConnection) async throws -> Bool {
        let rows = try await connection.query(
            """
            SELECT status = 'running' AND lease_number = \(Int32(task.leaseNumber))
            FROM orchestrator.tasks WHERE id = \(task.id)
            FOR UPDATE
            """, logger: logger)
        for try await leased in rows.decode(Bool.self) { return leased }
        return false
    }

    /// Tasks whose lease expired before `now` (their worker died or hung).
    func expiredLeases(now: Date, limit: Int, on connection: PostgresConnection) async throws -> [ClaimedTask] {
        let rows = try await connection.query(
            """
            SELECT t.id, t.workflow_id, w.type, t.state, t.visit, t.kind, t.activity, t.item_index, t.input::text, t.attempt, t.timeout_ms,
                   t.idempotency_key, t.correlation_id, t.lease_owner, t.lease_number
            FROM orchestrator.tasks t JOIN orchestrator.workflows w ON w.id = t.workflow_id
            WHERE t.status = 'running' AND t.lease_expires_at < \(now)
            ORDER BY t.lease_expires_at LIMIT \(limit)
            """, logger: logger)
        var tasks: [ClaimedTask] = []
        for try await row in rows {
            let (id, workflowID, type, state, visit, kind, activity, itemIndex, input, attempt, timeout, key, correlationID, owner, leaseNumber) =
                try row.decode((Int64, String, String, String, Int64, String, String, Int32?, String, Int32, Int64, String, String?, String?, Int32).self)
            tasks.append(ClaimedTask(
                id: id, workflowID: workflowID, workflowType: type, state: state, visit: visit, kind: TaskKind(rawValue: kind) ?? .activity,
                activity: activity, itemIndex: itemIndex.map(Int.init), input: try JSONValue(json: input), attempt: Int(attempt),
                timeout: .milliseconds(timeout), idempotencyKey: key, correlationID: correlationID, leaseOwner: owner ?? "",
                leaseNumber: Int(leaseNumber)))
        }
        return tasks
    }

    /// Gives back the leases `owner` still holds (a worker shutting down): the tasks are due again
    /// at once and the interrupted attempt does not count. Rows locked by an unfinished
    /// transaction are left to expire.
    func releaseLeases(owner: String, now: Date, on connection: PostgresConnection) async throws -> Int {
        let rows = try await connection.query(
            """
            UPDATE orchestrator.tasks SET status = 'ready', attempt = attempt - 1, lease_owner = NULL, lease_expires_at = NULL,
                run_at = \(now)
            WHERE id IN (SELECT id FROM orchestrator.tasks WHERE status = 'running' AND lease_owner = \(owner) FOR UPDATE SKIP LOCKED)
            RETURNING 1
            """, logger: logger)
        var released = 0
        for try await _ in rows { released += 1 }
        return released
    }

    /// Cancels the unfinished tasks of an instance (of one visit, or all); running ones lose their
    /// fence. Cancelling its activities also drops the map items not scheduled yet.
    func cancelTasks(workflowID: String, visit: Int64?, kind: TaskKind? = nil, now: Date, on connection: PostgresConnection) async throws {
        try await connection.query(
            """
            WITH unscheduled AS (
                DELETE FROM orchestrator.map_items
                WHERE workflow_id = \(workflowID) AND (\(visit)::int8 IS NULL OR visit = \(visit))
                  AND (\(kind?.rawValue)::text IS NULL OR \(kind?.rawValue) = 'activity'))
            UPDATE orchestrator.tasks SET status = 'cancelled', lease_owner = NULL, lease_expires_at = NULL, completed_at = \(now)
            WHERE workflow_id = \(workflowID) AND status IN ('ready', 'failed', 'running')
              AND (\(visit)::int8 IS NULL OR visit = \(visit)) AND (\(kind?.rawValue)::text IS NULL OR kind = \(kind?.rawValue))
            """, logger: logger)
    }

    /// Keeps the inputs of a map's items that are not scheduled yet, numbered from `firstIndex`.
    func insertMapItems(workflowID: String, visit: Int64, inputs: [JSONValue], firstIndex: Int, on connection: PostgresConnection) async throws {
        try await connection.query(
            """
            INSERT INTO orchestrator.map_items (workflow_id, visit, item_index, input)
            SELECT \(workflowID), \(visit), \(Int32(firstIndex)) + i.ordinality::int4 - 1, i.input::jsonb
            FROM unnest(\(inputs.map(\.jsonText))::text[]) WITH ORDINALITY AS i(input, ordinality)
            """, logger: logger)
    }

    /// Takes the inputs of the map items `first..<first + count` (by index) out of the waiting
    /// ones, to schedule them.
    func takeMapItems(workflowID: String, visit: Int64, first: Int, count: Int, on connection: PostgresConnection) async throws -> [(index: Int, input: JSONValue)] {
        let rows = try await connection.query(
            """
            DELETE FROM orchestrator.map_items
            WHERE workflow_id = \(workflowID) AND visit = \(visit) AND item_index >= \(Int32(first)) AND item_index < \(Int32(first + count))
            RETURNING item_index, input::text
            """, logger: logger)
        var items: [(index: Int, input: JSONValue)] = []
        for try await (index, input) in rows.decode((Int32, String).self) { items.append((Int(index), try JSONValue(json: input))) }
        return items.sorted { $0.index < $1.index }
    }

    /// The results of a map visit's completed items, by index: read once, when the last completes.
    func mapResults(workflowID: String, visit: Int64, on connection: PostgresConnection) async throws -> [Int: JSONValue] {
        let rows = try await connection.query(
            """
            SELECT item_index, result::text FROM orchestrator.tasks
            WHERE workflow_id = \(workflowID) AND visit = \(visit) AND kind = 'activity' AND status = 'completed' AND item_index IS NOT NULL
            """, logger: logger)
        var results: [Int: JSONValue] = [:]
        for try await (index, result) in rows.decode((Int32, String?).self) {
            results[Int(index)] = try result.map { try JSONValue(json: $0) } ?? .null
        }
        return results
    }

    /// Progress of a map visit entered before its progress was kept on the workflow (migration
    /// 0013): results of completed items by index, and how many items have a task.
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

extension WorkflowStore {
    /// The session running this transaction, for `terminateSession`.
    func currentTransaction(on connection: PostgresConnection) async throws -> SessionTransaction {
        let rows = try await connection.query(
            "SELECT pg_backend_pid(), (extract(epoch FROM transaction_timestamp()) * 1000000)::int8", logger: logger)
        for try await (backend, began) in rows.decode((Int32, Int64).self) { return SessionTransaction(backend: backend, beganMicroseconds: began) }
        throw OrchestratorError(.database, "the database did not report its session")
    }

    /// Bounds every statement from now to the end of the transaction (or to a rollback to the
    /// savepoint before) by `timeout`, an activity's.
    func limitStatements(to timeout: Duration, on connection: PostgresConnection) async throws {
        try await connection.query("SELECT set_config('statement_timeout', \(String(timeout.milliseconds)), true)", logger: logger)
    }

    /// Gives the transaction back the session's statement timeout (after an activity).
    func unlimitStatements(on connection: PostgresConnection) async throws {
        try await connection.query("SET LOCAL statement_timeout TO DEFAULT", logger: logger)
    }

    /// Ends the session running `transaction` (one whose activity ignored its timeout), so the
    /// transaction rolls back; only while that transaction is open. Once it has ended, the
    /// session is back in its pool, perhaps running another attempt, or this very statement.
    func terminateSession(running transaction: SessionTransaction, on connection: PostgresConnection) async throws {
        try await connection.query(
            """
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE pid = \(transaction.backend)
              AND (extract(epoch FROM xact_start) * 1000000)::int8 = \(transaction.beganMicroseconds)
            """, logger: logger)
    }
}

extension PostgresQuery.StringInterpolation {
    /// The claim's second half, after a `picked` CTE of task ids: leases each picked task to
    /// `owner` for its timeout plus `grace` and returns it with its instance as it stands (an
    /// `InstanceSnapshot`: the row's version, then the columns `WorkflowStore.lockedWorkflow`
    /// reads; the context only for an activity that is not a map item, the one kind of attempt
    /// `TaskQueue.concludeAtOnce` concludes).
    mutating func appendInterpolation(leasingPickedTasksTo owner: String, now: Date, grace: Duration) {
        appendLiteral("""
            UPDATE orchestrator.tasks t SET status = 'running', attempt = t.attempt + 1, lease_number = t.lease_number + 1,
                lease_owner = 
            """)
        appendInterpolation(owner)
        appendLiteral(", lease_expires_at = ")
        appendInterpolation(now)
        appendLiteral("::timestamptz + (t.timeout_ms + ")
        appendInterpolation(grace.milliseconds)
        appendLiteral("::int8) * interval '1 millisecond', started_at = ")
        appendInterpolation(now)
        appendLiteral("""

            FROM picked, orchestrator.workflows w
            WHERE t.id = picked.id AND w.id = t.workflow_id
            RETURNING t.id, t.workflow_id, w.type, t.state, t.visit, t.kind, t.activity, t.item_index, t.input::text,
                      t.attempt, t.timeout_ms, t.idempotency_key, t.correlation_id, t.lease_number, t.run_at, w.xmin::text,
                      w.id, w.type, w.version, w.status, w.state, w.waiting_for, w.visit, w.event_seq, w.cancel_requested, w.correlation_id,
                      w.parent_id, w.parent_state, w.parent_visit, w.map_progress::text,
                      CASE WHEN t.kind = 'activity' AND t.item_index IS NULL THEN w.input::text END,
                      CASE WHEN t.kind = 'activity' AND t.item_index IS NULL THEN w.context::text END
            """)
    }
}
