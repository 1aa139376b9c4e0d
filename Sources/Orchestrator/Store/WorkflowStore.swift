import Foundation
import Logging
import PostgresNIO

/// All SQL of Orchestrator. Methods take the connection of the caller's transaction, so the
/// engine composes them into one commit per transition; every value is a bind parameter.
public struct WorkflowStore: Sendable {
    public let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    /// The NOTIFY channel that wakes idle workers. A payload is the due time of the tasks it
    /// announces (milliseconds since 1970, by the enqueuing process's clock); empty: due now.
    public static let taskChannel = "orchestrator_tasks"

    // MARK: Definitions

    public func saveDefinition(_ definition: WorkflowDefinition, on connection: PostgresConnection) async throws {
        try await connection.query(
            """
            INSERT INTO orchestrator.definitions (type, version, definition)
            VALUES (\(definition.type), \(definition.version), \(try JSONValue(encoding: definition).jsonText)::jsonb)
            ON CONFLICT (type, version) DO NOTHING
            """, logger: logger)
    }

    public func loadDefinition(type: String, version: String, on connection: PostgresConnection) async throws -> WorkflowDefinition? {
        let rows = try await connection.query(
            "SELECT definition::text FROM orchestrator.definitions WHERE type = \(type) AND version = \(version)",
            logger: logger)
        for try await text in rows.decode(String.self) {
            return try JSONDecoder().decode(WorkflowDefinition.self, from: Data(text.utf8))
        }
        return nil
    }

    // MARK: Workflows

    /// Inserts a new instance as it stands before its first transition (`save` writes that
    /// transition); `false` when the id or the idempotency key already exists.
    func insertWorkflow(_ new: NewWorkflow, on connection: PostgresConnection) async throws -> Bool {
        let workflow = new.workflow
        let rows = try await connection.prepared(HotQuery.InsertWorkflow.self,
            """
            INSERT INTO orchestrator.workflows
                (id, type, version, status, state, input, context, idempotency_key, request_hash, correlation_id,
                 parent_id, parent_state, parent_visit, created_at, updated_at)
            VALUES (\(workflow.id), \(workflow.type), \(workflow.version), 'running', NULL, \(new.input.jsonText)::jsonb,
                    \(workflow.storedContext.jsonText)::jsonb, \(new.idempotencyKey), \(new.requestHash), \(workflow.correlationID),
                    \(workflow.parent?.workflowID)::text, \(workflow.parent?.state)::text, \(workflow.parent?.visit)::int8,
                    \(workflow.now), \(workflow.now))
            ON CONFLICT DO NOTHING
            RETURNING 1
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// Inserts an instance its first transition has moved already, with that transition's tasks
    /// and events, in one statement (`save`'s). `false` when the id or the idempotency key already
    /// exists: then nothing is written.
    func insert(_ new: NewWorkflow, on connection: PostgresConnection) async throws -> Bool {
        try await write(updating: [], inserting: new, dispatch: nil, on: connection).contains(new.workflow.id)
    }

    /// The id and request hash of an instance with this id or idempotency key.
    func existingWorkflow(id: String?, idempotencyKey: String?, on connection: PostgresConnection) async throws -> (id: String, requestHash: String, byKey: Bool)? {
        if let idempotencyKey {
            let rows = try await connection.query(
                "SELECT id, request_hash FROM orchestrator.workflows WHERE idempotency_key = \(idempotencyKey)", logger: logger)
            for try await (id, hash) in rows.decode((String, String).self) { return (id, hash, true) }
        }
        if let id {
            let rows = try await connection.query(
                "SELECT id, request_hash FROM orchestrator.workflows WHERE id = \(id)", logger: logger)
            for try await (id, hash) in rows.decode((String, String).self) { return (id, hash, false) }
        }
        return nil
    }

    /// Loads and locks an instance for a transition: transitions of one workflow are serial.
    func lockWorkflow(_ id: String, now: Date, on connection: PostgresConnection) async throws -> LockedWorkflow? {
        try await lockWorkflows([id], now: now, on: connection)[id]
    }

    /// Loads and locks instances for their transitions in one statement, in id order (so two
    /// transactions locking overlapping sets never deadlock): the ids, sorted, drive one primary-key
    /// lookup each, a plan no statistics can turn into a scan of the table (a generic plan made
    /// while the table was small and never analyzed read it whole). The ids reach `unnest` through
    /// a subquery, so the planner estimates their number alike with or without their values: the
    /// generic plan then costs what a custom one does, and PostgreSQL keeps it instead of planning
    /// the statement at every call. `FOR NO KEY UPDATE`, not
    /// `FOR UPDATE`: inserting a task or a child that references the row (a foreign key's
    /// `KEY SHARE` lock) does not wait for it, so a transition that writes into another
    /// instance's queue never waits on that instance's transition.
    ///
    /// The context (and the input in it) is loaded for the instances in `withContext` only (all by
    /// default): it is the one part whose size grows with the workflow, and a map item's
    /// completion needs none (`loadContext` brings it when it does).
    func lockWorkflows(_ ids: [String], withContext: [String]? = nil, now: Date, on connection: PostgresConnection) async throws -> [String: LockedWorkflow] {
        let rows = try await connection.prepared(HotQuery.LockWorkflows.self,
            """
            SELECT w.* FROM (SELECT DISTINCT unnest((SELECT \(ids)::text[])) AS id ORDER BY 1) k
            CROSS JOIN LATERAL (
                SELECT id, type, version, status, state, waiting_for, visit, event_seq, cancel_requested, correlation_id,
                       parent_id, parent_state, parent_visit, map_progress::text,
                       CASE WHEN id = ANY(\(withContext ?? ids)::text[]) THEN input::text END,
                       CASE WHEN id = ANY(\(withContext ?? ids)::text[]) THEN context::text END
                FROM orchestrator.workflows WHERE id = k.id
                FOR NO KEY UPDATE) w
            """, logger: logger)
        var workflows: [String: LockedWorkflow] = [:]
        for try await row in rows {
            let workflow = try Self.lockedWorkflow(row.makeRandomAccess(), from: 0, now: now)
            workflows[workflow.id] = workflow
        }
        return workflows
    }

    /// The instance in `row`'s columns from `start` on, in the order `lockWorkflows` selects them
    /// (the claim returns them too): id, type, version, status, state, waiting_for, visit,
    /// event_seq, cancel_requested, correlation_id, parent_id, parent_state, parent_visit,
    /// map_progress, then input and context (both NULL: the context not loaded).
    static func lockedWorkflow(_ row: PostgresRandomAccessRow, from start: Int, now: Date) throws -> LockedWorkflow {
        func column<T: PostgresDecodable>(_ offset: Int, _ type: T.Type = T.self) throws -> T { try row[start + offset].decode(T.self) }
        let input: String? = try column(14)
        let context: String? = try column(15)
        let parentID: String? = try column(10)
        let parentState: String? = try column(11)
        let parentVisit: Int64? = try column(12)
        let mapProgress: String? = try column(13)
        return LockedWorkflow(
            id: try column(0), type: try column(1), version: try column(2),
            status: WorkflowStatus(rawValue: try column(3, String.self)) ?? .running, state: try column(4),
            context: try input.flatMap { input in try context.map { try LockedWorkflow.context(storedText: $0, inputText: input) } },
            waitingFor: try column(5), visit: try column(6), eventSeq: Int(try column(7, Int32.self)),
            cancelRequested: try column(8), correlationID: try column(9),
            parent: parentID.flatMap { id in parentState.flatMap { state in parentVisit.map { ParentLink(workflowID: id, state: state, visit: $0) } } },
            mapProgress: try mapProgress.flatMap { MapProgress(json: try JSONValue(json: $0)) }, now: now)
    }

    /// The context of an instance this transaction has locked without it (see `lockWorkflows`).
    func loadContext(of workflow: inout LockedWorkflow, on connection: PostgresConnection) async throws {
        guard !workflow.isContextLoaded else { return }
        let rows = try await connection.query(
            "SELECT input::text, context::text FROM orchestrator.workflows WHERE id = \(workflow.id)", logger: logger)
        for try await (input, context) in rows.decode((String, String).self) {
            workflow.receiveContext(try LockedWorkflow.context(storedText: context, inputText: input))
            return
        }
        throw OrchestratorError(.workflowNotFound, "no workflow '\(workflow.id)'")
    }

    // Prepared (hot-path) queries cast every parameter (`$n::text`, `$n::text::jsonb`): the
    // server infers each parameter's type from the statement, and a NULL bind then needs no type.

    /// Writes a transition in one statement: the workflow row, its new tasks, its events, and a
    /// notification when a task is ready now.
    func save(_ workflow: LockedWorkflow, dispatch: EagerDispatch? = nil, on connection: PostgresConnection) async throws {
        try await save([workflow], dispatch: dispatch, on: connection)
    }

    /// Writes the transitions of several instances in one statement: their rows, new tasks and
    /// events, and a notification when a task is ready now; then tells the parent of each instance
    /// that ends now. With `dispatch`, the new tasks it picks are inserted already leased to its
    /// worker (unless an activity limit applies) and handed to it.
    ///
    /// The rows go as one JSON document (a column may be NULL or a list there), the tasks and
    /// events as parallel arrays. The ids also go as an array: `id = ANY` keeps the update on the
    /// primary key (joined with the document alone, a big table's rows are hashed instead).
    func save(_ workflows: [LockedWorkflow], dispatch: EagerDispatch? = nil, on connection: PostgresConnection) async throws {
        try await write(updating: workflows, inserting: nil, dispatch: dispatch, on: connection)
    }

    /// `save` for transitions decided from snapshots (`InstanceSnapshot`), without a lock held:
    /// writes each instance's transition, and ends its attempt as completed, only where its
    /// `SnapshotCondition` holds — the row unchanged since (its `xmin`), the lease current.
    /// Locks as a transition does: the instances first, in id order (the `count(*)` reads
    /// `unchanged` whole before any task row is locked), then the tasks. Returns the ids of the
    /// instances written; the others are left as they were.
    func saveIfUnchanged(
        _ workflows: [LockedWorkflow], conditions: [SnapshotCondition], dispatch: EagerDispatch?, on connection: PostgresConnection
    ) async throws -> Set<String> {
        try await write(updating: workflows, inserting: nil, conditions: conditions, dispatch: dispatch, on: connection)
    }

    /// `save`, `saveIfUnchanged` and `insert` in one statement: updates the rows of `updating`
    /// (all must exist, unless `conditions` decide which), inserts `inserting` unless its id or
    /// idempotency key exists, and writes the new tasks and events of the rows written. Returns
    /// the ids of the rows written.
    @discardableResult
    private func write(
        updating: [LockedWorkflow], inserting: NewWorkflow?, conditions: [SnapshotCondition] = [], dispatch: EagerDispatch?,
        on connection: PostgresConnection
    ) async throws -> Set<String> {
        let workflows = updating + (inserting.map { [$0.workflow] } ?? [])
        guard let now = workflows.map(\.now).max() else { return [] }
        let updatedRows = try JSONValue.array(updating.map { .object(try Self.row(of: $0)) }).jsonText
        let insertedRows = try JSONValue.array((inserting.map { [$0] } ?? []).map { new in
            var row = try Self.row(of: new.workflow)
            row["context"] = new.workflow.storedContext
            row["type"] = .string(new.workflow.type)
            row["version"] = .string(new.workflow.version)
            row["input"] = new.input
            row["idempotency_key"] = new.idempotencyKey.map(JSONValue.string)
            row["request_hash"] = .string(new.requestHash)
            row["correlation_id"] = new.workflow.correlationID.map(JSONValue.string)
            row["parent_id"] = new.workflow.parent.map { .string($0.workflowID) }
            row["parent_state"] = new.workflow.parent.map { .string($0.state) }
            row["parent_visit"] = new.workflow.parent.map { .number(Double($0.visit)) }
            return JSONValue.object(row)
        }).jsonText
        let tasks = workflows.flatMap { workflow in workflow.newTasks.map { (workflowID: workflow.id, task: $0) } }
        let events = workflows.flatMap { workflow in workflow.newEvents.map { (workflowID: workflow.id, event: $0) } }
        let eager = dispatch?.candidates(tasks.map(\.task), now: now) ?? tasks.map { _ in false }
        let result = try await connection.prepared(HotQuery.Save.self,
            """
            -- The arrays reach `unnest` through subqueries, as in `lockWorkflows` (a generic plan kept).
            WITH expected AS (
                SELECT * FROM unnest((SELECT \(conditions.map(\.workflowID))::text[]), (SELECT \(conditions.map(\.rowVersion))::text[]),
                                     (SELECT \(conditions.map(\.taskID))::int8[]), (SELECT \(conditions.map { Int32($0.leaseNumber) })::int4[]),
                                     (SELECT \(conditions.map(\.result.jsonText))::text[]))
                    AS x(workflow_id, row_version, task_id, lease_number, result)),
            -- Rows are locked as `lockWorkflows` locks them: sorted keys, one primary-key lookup each.
            unchanged AS (
                SELECT w.id FROM (SELECT DISTINCT workflow_id, row_version FROM expected ORDER BY 1) x
                CROSS JOIN LATERAL (
                    SELECT id FROM orchestrator.workflows WHERE id = x.workflow_id AND xmin = x.row_version::xid
                    FOR NO KEY UPDATE) w),
            attempts AS (
                SELECT t.* FROM (SELECT DISTINCT task_id FROM expected WHERE (SELECT count(*) FROM unchanged) > 0 ORDER BY 1) x
                CROSS JOIN LATERAL (
                    SELECT id, lease_number, status = 'running' AS running FROM orchestrator.tasks WHERE id = x.task_id
                    FOR UPDATE) t),
            fenced AS (
                UPDATE orchestrator.tasks t SET status = 'completed', result = x.result::jsonb, lease_owner = NULL, lease_expires_at = NULL,
                    completed_at = \(now)::timestamptz
                FROM attempts a JOIN expected x ON x.task_id = a.id AND x.lease_number = a.lease_number
                WHERE t.id = a.id AND a.running AND x.workflow_id IN (SELECT id FROM unchanged)
                RETURNING t.workflow_id),
            updated AS (
                UPDATE orchestrator.workflows w SET
                    status = r.status, state = r.state, context = coalesce(r.context, w.context), output = r.output -> 'value', error = r.error,
                    map_progress = r.map_progress,
                    waiting_for = r.waiting_for, visit = r.visit, event_seq = r.event_seq, cancel_requested = r.cancel_requested,
                    updated_at = \(now)::timestamptz,
                    completed_at = CASE WHEN r.ended THEN coalesce(w.completed_at, \(now)::timestamptz) END
                FROM jsonb_to_recordset(\(updatedRows)::text::jsonb)
                    AS r(id text, status text, state text, context jsonb, output jsonb, error jsonb, waiting_for text[], visit int8,
                         event_seq int4, cancel_requested bool, ended bool, map_progress jsonb)
                WHERE w.id = r.id AND w.id = ANY(\(updating.map(\.id))::text[])
                  -- An instance with a condition is written only if its condition held.
                  AND (NOT EXISTS (SELECT FROM expected x WHERE x.workflow_id = w.id) OR w.id IN (SELECT workflow_id FROM fenced))
                RETURNING w.id, w.correlation_id),
            inserted AS (
                INSERT INTO orchestrator.workflows
                    (id, type, version, status, state, input, context, output, error, idempotency_key, request_hash, correlation_id,
                     waiting_for, visit, event_seq, cancel_requested, parent_id, parent_state, parent_visit, map_progress,
                     created_at, updated_at, completed_at)
                SELECT n.id, n.type, n.version, n.status, n.state, n.input, n.context, n.output -> 'value', n.error, n.idempotency_key,
                       n.request_hash, n.correlation_id, n.waiting_for, n.visit, n.event_seq, n.cancel_requested,
                       n.parent_id, n.parent_state, n.parent_visit, n.map_progress,
                       \(now)::timestamptz, \(now)::timestamptz, CASE WHEN n.ended THEN \(now)::timestamptz END
                FROM jsonb_to_recordset(\(insertedRows)::text::jsonb)
                    AS n(id text, type text, version text, status text, state text, input jsonb, context jsonb, output jsonb, error jsonb,
                         idempotency_key text, request_hash text, correlation_id text, waiting_for text[], visit int8, event_seq int4,
                         cancel_requested bool, parent_id text, parent_state text, parent_visit int8, map_progress jsonb, ended bool)
                ON CONFLICT DO NOTHING
                RETURNING id, correlation_id),
            saved AS (
                SELECT id, correlation_id FROM updated UNION ALL SELECT id, correlation_id FROM inserted),
            new_tasks AS (
                INSERT INTO orchestrator.tasks
                    (workflow_id, state, visit, kind, activity, item_index, input, status, max_attempts, run_at, timeout_ms,
                     idempotency_key, activity_limit, correlation_id, created_at, attempt, lease_number, lease_owner, lease_expires_at, started_at)
                SELECT t.workflow_id, t.state, t.visit, t.kind, t.activity, t.item_index, t.input::jsonb,
                       CASE WHEN t.leased THEN 'running' ELSE 'ready' END, t.max_attempts, t.run_at, t.timeout_ms, t.idempotency_key,
                       t.activity_limit, saved.correlation_id, \(now)::timestamptz,
                       CASE WHEN t.leased THEN 1 ELSE 0 END, CASE WHEN t.leased THEN 1 ELSE 0 END,
                       CASE WHEN t.leased THEN \(dispatch?.owner)::text END,
                       CASE WHEN t.leased THEN \(now)::timestamptz + (t.timeout_ms + \(dispatch?.grace.milliseconds ?? 0)::int8) * interval '1 millisecond' END,
                       CASE WHEN t.leased THEN \(now)::timestamptz END
                FROM (
                    SELECT u.*, l.activity_limit, u.eager AND l.activity_limit IS NULL AS leased
                    FROM unnest(\(tasks.map(\.workflowID))::text[], \(tasks.map(\.task.state))::text[], \(tasks.map(\.task.visit))::int8[],
                                \(tasks.map(\.task.kind.rawValue))::text[], \(tasks.map(\.task.activity))::text[],
                                \(NullableArray(tasks.map { $0.task.itemIndex.map(Int32.init) }))::int4[], \(tasks.map(\.task.input.jsonText))::text[],
                                \(tasks.map { Int32($0.task.maxAttempts) })::int4[], \(tasks.map(\.task.runAt))::timestamptz[],
                                \(tasks.map(\.task.timeoutMilliseconds))::int8[], \(tasks.map(\.task.idempotencyKey))::text[], \(eager)::bool[])
                        AS u(workflow_id, state, visit, kind, activity, item_index, input, max_attempts, run_at, timeout_ms, idempotency_key, eager),
                    -- No lookup at all while no limit exists (the common case): 0.1 ms a save.
                    LATERAL (SELECT CASE WHEN u.kind = 'activity' AND EXISTS (SELECT FROM orchestrator.activity_limits)
                                         THEN orchestrator.activity_limit_of(u.activity) END AS activity_limit) l) t
                JOIN saved ON saved.id = t.workflow_id
                RETURNING id, idempotency_key, status, run_at),
            new_events AS (
                INSERT INTO orchestrator.events (workflow_id, seq, type, state, attempt, data, at)
                SELECT e.workflow_id, e.seq, e.type, e.state, e.attempt, e.data::jsonb, e.at
                FROM unnest(\(events.map(\.workflowID))::text[], \(events.map { Int32($0.event.seq) })::int4[],
                            \(events.map(\.event.type.rawValue))::text[], \(NullableArray(events.map(\.event.state)))::text[],
                            \(NullableArray(events.map { $0.event.attempt.map(Int32.init) }))::int4[],
                            \(NullableArray(events.map { $0.event.data?.jsonText }))::text[],
                            \(events.map(\.event.at))::timestamptz[])
                    AS e(workflow_id, seq, type, state, attempt, data, at)
                JOIN saved ON saved.id = e.workflow_id),
            woken AS (
                SELECT count(pg_notify(\(Self.taskChannel), (extract(epoch FROM run_at) * 1000)::int8::text))
                FROM new_tasks WHERE status = 'ready' AND run_at <= \(now)::timestamptz)
            SELECT ARRAY(SELECT id FROM updated), ARRAY(SELECT id FROM inserted), pg_current_xact_id()::xid::text, n.id, n.idempotency_key
            FROM woken LEFT JOIN new_tasks n ON n.status = 'running'
            """, logger: logger)
        // A leased task is one of `tasks` (its key tells which): only its id comes back.
        let byKey = Dictionary(tasks.map { ($0.task.idempotencyKey, $0) }, uniquingKeysWith: { first, _ in first })
        let byID = Dictionary(workflows.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var leased: [(task: ClaimedTask, snapshot: InstanceSnapshot)] = []
        var written: Set<String> = []
        for try await (updatedIDs, insertedIDs, rowVersion, id, key) in result.decode(([String], [String], String, Int64?, String?).self) {
            // Tasks and events go only with an instance row this statement wrote (no foreign key
            // checks them, migration 0014): one missing would have dropped its history silently.
            guard !conditions.isEmpty || updatedIDs.count == updating.count else {
                throw OrchestratorError(.database, "saved \(updatedIDs.count) of \(updating.count) workflows: an instance row is missing")
            }
            written = Set(updatedIDs + insertedIDs)
            guard let id, let key, let (workflowID, task) = byKey[key], let workflow = byID[workflowID], let dispatch else { continue }
            var saved = workflow
            saved.markSaved()
            leased.append((
                ClaimedTask(
                    id: id, workflowID: workflowID, workflowType: workflow.type, state: task.state, visit: task.visit, kind: task.kind,
                    activity: task.activity, itemIndex: task.itemIndex, input: task.input, attempt: 1,
                    timeout: .milliseconds(task.timeoutMilliseconds), idempotencyKey: key, correlationID: workflow.correlationID,
                    leaseOwner: dispatch.owner, leaseNumber: 1, dueAt: task.runAt),
                InstanceSnapshot(workflow: saved, rowVersion: rowVersion, startedAt: now)))
        }
        dispatch?.accept(leased: leased, offered: eager.filter { $0 }.count)
        // Counted once written and committed: a transition decided but not written (a snapshot
        // gone stale, then decided again on the locking path) is no end, nor is one rolled back.
        for workflow in workflows where workflow.endsNow && written.contains(workflow.id) {
            let (type, status) = (workflow.type, workflow.status)
            AfterCommit.run(on: connection) { EngineMetrics.workflowEnded(type: type, status: status) }
            guard let parent = workflow.parent else { continue }
            let result: JSONValue = [
                "workflow_id": .string(workflow.id), "status": .string(workflow.status.rawValue), "output": workflow.output ?? .null,
                "error": workflow.error.map { ["code": .string($0.code), "message": .string($0.message)] } ?? .null,
            ]
            _ = try await enqueueDelivery(
                to: parent.workflowID, kind: .childResult, state: parent.state, visit: parent.visit, input: result,
                idempotencyKey: "\(workflow.id)/result", correlationID: workflow.correlationID, now: workflow.now, on: connection)
        }
        return written
    }

    /// The columns a transition changes, as one element of `write`'s JSON document (a column may
    /// be NULL or a list there).
    private static func row(of workflow: LockedWorkflow) throws -> [String: JSONValue] {
        var row: [String: JSONValue] = [
            "id": .string(workflow.id), "status": .string(workflow.status.rawValue),
            "waiting_for": .array(workflow.waitingFor.map(JSONValue.string)), "visit": .number(Double(workflow.visit)),
            "event_seq": .number(Double(workflow.eventSeq)), "cancel_requested": .bool(workflow.cancelRequested),
            "ended": .bool(workflow.status.isTerminal),
        ]
        row["state"] = workflow.state.map(JSONValue.string)
        // Absent when unchanged: the column keeps what it holds.
        row["context"] = workflow.contextChanged ? workflow.storedContext : nil
        row["map_progress"] = workflow.mapProgress?.json
        // Wrapped, so an output that is JSON's null stays distinct from no output.
        row["output"] = workflow.output.map { ["value": $0] }
        row["error"] = try workflow.error.map { try JSONValue(encoding: $0) }
        return row
    }

    /// Puts a delivery (a child's result, a signal) in another instance's queue, due now, without
    /// locking that instance's row for a transition: only its key (`FOR KEY SHARE`), so the pruner
    /// cannot delete it under the new task. `false` when there is no such instance.
    func enqueueDelivery(
        to workflowID: String, kind: TaskKind, state: String, visit: Int64, input: JSONValue, idempotencyKey: String, correlationID: String?,
        now: Date, on connection: PostgresConnection
    ) async throws -> Bool {
        let rows = try await connection.query(
            """
            WITH delivery AS (
                INSERT INTO orchestrator.tasks
                    (workflow_id, state, visit, kind, activity, input, status, max_attempts, run_at, timeout_ms, idempotency_key, correlation_id, created_at)
                SELECT target.id, \(state), \(visit), \(kind.rawValue), \(kind.rawValue), \(input.jsonText)::jsonb, 'ready', 1000, \(now), 10000,
                       \(idempotencyKey), \(correlationID), \(now)
                FROM (SELECT id FROM orchestrator.workflows WHERE id = \(workflowID) FOR KEY SHARE) AS target
                RETURNING id)
            SELECT pg_notify(\(Self.taskChannel), '') FROM delivery
            """, logger: logger)
        var delivered = false
        for try await _ in rows { delivered = true }
        return delivered
    }

    func notifyWorkers(on connection: PostgresConnection) async throws {
        try await connection.query("SELECT pg_notify(\(Self.taskChannel), '')", logger: logger)
    }

    // MARK: Reads

    public func workflow(_ id: String, on connection: PostgresConnection) async throws -> WorkflowRecord? {
        let rows = try await connection.prepared(HotQuery.ReadWorkflow.self,
            """
            SELECT w.id, w.type, w.version, w.status, w.state, w.input::text, w.context::text, w.output::text, w.error::text,
                   w.created_at, w.updated_at, w.completed_at, w.waiting_for,
                   (SELECT min(t.run_at) FROM orchestrator.tasks t
                    WHERE t.workflow_id = w.id AND t.visit = w.visit AND t.kind = 'timer' AND t.status = 'ready') AS timer_at
            FROM orchestrator.workflows w WHERE w.id = \(id)
            """, logger: logger)
        for try await row in rows {
            return try Self.workflowRecord(row)
        }
        return nil
    }

    /// A record from a row of the columns above, ending with `waiting_for` and `timer_at`: the run
    /// time of the pending timer of the current state (a `wait_for`'s timeout, a `sleep`'s end).
    static func workflowRecord(_ row: PostgresRow) throws -> WorkflowRecord {
        let (id, type, version, statusText, state, input, context, output, error, createdAt, updatedAt, completedAt, waitingFor, timerAt) =
            try row.decode((String, String, String, String, String?, String, String, String?, String?, Date, Date, Date?, [String], Date?).self)
        let status = WorkflowStatus(rawValue: statusText) ?? .running
        return WorkflowRecord(
            id: id, type: type, version: version, status: status, state: state,
            input: try JSONValue(json: input), context: try JSONValue(json: context), output: try output.map { try JSONValue(json: $0) },
            error: try error.map { try JSONDecoder().decode(StateMachine.WorkflowFailure.self, from: Data($0.utf8)) },
            createdAt: createdAt, updatedAt: updatedAt, completedAt: completedAt,
            waiting: WorkflowRecord.Wait(status: status, signals: waitingFor, timerAt: timerAt))
    }

    public func history(_ workflowID: String, on connection: PostgresConnection) async throws -> [EventRecord] {
        try await histories([workflowID], on: connection).map(\.event)
    }

    /// A page of an instance's history, in order: at most `limit` events after event `seq`.
    /// `more`: another page follows the last event.
    public func history(
        _ workflowID: String, after seq: Int?, limit: Int, on connection: PostgresConnection
    ) async throws -> (events: [EventRecord], more: Bool) {
        let rows = try await connection.query(
            """
            SELECT seq, type, state, attempt, data::text, at FROM orchestrator.events
            WHERE workflow_id = \(workflowID) AND seq > \(Int32(clamping: seq ?? 0))
            ORDER BY seq LIMIT \(limit + 1)
            """, logger: logger)
        var events: [EventRecord] = []
        for try await (seq, type, state, attempt, data, at) in rows.decode((Int32, String, String?, Int32?, String?, Date).self) {
            events.append(try Self.event(seq: seq, type: type, state: state, attempt: attempt, data: data, at: at))
        }
        let more = events.count > limit
        return (Array(events.prefix(limit)), more)
    }

    /// The histories of several instances in one query: each event with its instance's id and
    /// type, instance by instance, each in order.
    public func histories(
        _ workflowIDs: [String], on connection: PostgresConnection
    ) async throws -> [(workflowID: String, workflowType: String, event: EventRecord)] {
        let rows = try await connection.query(
            """
            SELECT e.workflow_id, w.type, e.seq, e.type, e.state, e.attempt, e.data::text, e.at
            FROM orchestrator.events e JOIN orchestrator.workflows w ON w.id = e.workflow_id
            WHERE e.workflow_id = ANY(\(workflowIDs)::text[]) ORDER BY e.workflow_id, e.seq
            """, logger: logger)
        var events: [(workflowID: String, workflowType: String, event: EventRecord)] = []
        for try await (workflowID, workflowType, seq, type, state, attempt, data, at) in rows.decode((String, String, Int32, String, String?, Int32?, String?, Date).self) {
            events.append((workflowID, workflowType, try Self.event(seq: seq, type: type, state: state, attempt: attempt, data: data, at: at)))
        }
        return events
    }

    /// An event from the columns `seq, type, state, attempt, data::text, at`.
    private static func event(seq: Int32, type: String, state: String?, attempt: Int32?, data: String?, at: Date) throws -> EventRecord {
        EventRecord(
            seq: Int(seq), type: EventRecord.Kind(rawValue: type) ?? .stateEntered, state: state, attempt: attempt.map(Int.init),
            at: at, data: try data.map { try JSONValue(json: $0) })
    }

    /// A page of instances, newest first, after `cursor` (the last id of the previous page): at
    /// most `limit`, and only as many as fit in `maxBytes` of input, context and output (always
    /// one), so a page of large workflows stays bounded. `more`: another page follows.
    public func listWorkflows(
        _ filter: WorkflowFilter, limit: Int, maxBytes: Int, after cursor: String?, on connection: PostgresConnection
    ) async throws -> (records: [WorkflowRecord], more: Bool) {
        let rows = try await connection.query(
            """
            WITH page AS (
                SELECT w.id, w.type, w.version, w.status, w.state, t.input, t.context, t.output, w.error::text AS error,
                       w.created_at, w.updated_at, w.completed_at, w.waiting_for,
                       (SELECT min(k.run_at) FROM orchestrator.tasks k
                        WHERE k.workflow_id = w.id AND k.visit = w.visit AND k.kind = 'timer' AND k.status = 'ready') AS timer_at,
                       row_number() OVER newest AS n,
                       sum(octet_length(t.input) + octet_length(t.context) + coalesce(octet_length(t.output), 0)) OVER newest AS running
                FROM orchestrator.workflows w, LATERAL (SELECT w.input::text AS input, w.context::text AS context, w.output::text AS output) t
                WHERE \(matching: filter) \(after: cursor)
                WINDOW newest AS (ORDER BY w.created_at DESC, w.id DESC ROWS UNBOUNDED PRECEDING)
                ORDER BY w.created_at DESC, w.id DESC LIMIT \(limit + 1))
            SELECT id, type, version, status, state, input, context, output, error, created_at, updated_at, completed_at,
                   waiting_for, timer_at, (SELECT count(*) FROM page) AS fetched
            FROM page WHERE n <= \(limit) AND (n = 1 OR running <= \(maxBytes))
            ORDER BY n
            """, logger: logger)
        var records: [WorkflowRecord] = []
        var fetched = 0
        for try await row in rows {
            records.append(try Self.workflowRecord(row))
            fetched = Int(try row.makeRandomAccess()["fetched"].decode(Int64.self))
        }
        return (records, fetched > records.count)
    }
}
