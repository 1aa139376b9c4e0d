import Foundation
import PostgresNIO

extension WorkflowStore {
    /// Late tasks, most late first. `thresholds` overrides `lateAfter` per workflow type.
    func lateTasks(now: Date, lateAfter: Duration, thresholds: [String: Duration], limit: Int, on connection: PostgresConnection) async throws -> [Dashboard.LateTask] {
        let types = Array(thresholds.keys)
        let overrides = types.map { thresholds[$0]!.milliseconds }
        let earliest = now.addingTimeInterval(-(([lateAfter] + thresholds.values).min() ?? lateAfter).seconds)
        let rows = try await connection.query(
            """
            WITH late AS (
                SELECT t.id, t.workflow_id, t.state, t.activity, 'not_started' AS reason,
                       extract(epoch FROM \(now) - t.run_at) * 1000 - coalesce(o.ms, \(lateAfter.milliseconds)) AS late_ms
                FROM orchestrator.tasks t
                JOIN orchestrator.workflows w ON w.id = t.workflow_id
                LEFT JOIN unnest(\(types)::text[], \(overrides)::int8[]) AS o(type, ms) ON o.type = w.type
                WHERE t.completed_at IS NULL AND t.status IN ('ready', 'failed') AND t.run_at < \(earliest)
                UNION ALL
                SELECT id, workflow_id, state, activity,
                       CASE WHEN lease_expires_at < \(now) THEN 'lease_expired' ELSE 'running_past_timeout' END,
                       CASE WHEN lease_expires_at < \(now) THEN extract(epoch FROM \(now) - lease_expires_at) * 1000
                            ELSE extract(epoch FROM \(now) - started_at) * 1000 - timeout_ms END
                FROM orchestrator.tasks
                WHERE status = 'running' AND (lease_expires_at < \(now) OR started_at + timeout_ms * interval '1 millisecond' < \(now)))
            SELECT late.id, late.workflow_id, w.type, late.state, late.activity, late.reason, late.late_ms::float8
            FROM late JOIN orchestrator.workflows w ON w.id = late.workflow_id
            WHERE late.late_ms > 0
            ORDER BY late.late_ms DESC LIMIT \(limit)
            """, logger: logger)
        var tasks: [Dashboard.LateTask] = []
        for try await (id, workflowID, type, state, activity, reason, lateMilliseconds) in rows.decode((Int64, String, String, String, String, String, Double).self) {
            tasks.append(Dashboard.LateTask(
                taskID: id, workflowID: workflowID, workflowType: type, state: state, activity: activity,
                reason: Dashboard.LateTask.Reason(rawValue: reason) ?? .notStarted, lateBySeconds: lateMilliseconds / 1000))
        }
        return tasks
    }

    /// What could hold back each of these tasks, in one query (see `TaskDelayCause.decide`).
    public func taskFacts(_ ids: [Int64], now: Date, on connection: PostgresConnection) async throws -> [TaskFacts] {
        let live = now.addingTimeInterval(-TaskDelayCause.silentAfterSeconds)
        let rows = try await connection.query(
            """
            SELECT t.id, t.kind, t.activity, t.status, t.run_at, t.started_at, t.timeout_ms, t.lease_owner,
                   extract(epoch FROM \(now) - o.heartbeat_at)::float8, (t.errors -> -1)::text,
                   (SELECT count(*) FROM orchestrator.workers w WHERE w.heartbeat_at >= \(live) AND w.stopped_at IS NULL),
                   (SELECT count(*) FROM orchestrator.workers w WHERE w.heartbeat_at >= \(live) AND w.stopped_at IS NULL
                       AND (w.activities IS NULL OR t.activity = ANY(w.activities))),
                   l.pattern, l.max_running,
                   (SELECT count(*) FROM orchestrator.tasks r WHERE r.status = 'running' AND r.activity_limit = t.activity_limit),
                   (SELECT count(*) FROM (
                       SELECT 1 FROM orchestrator.tasks q
                       WHERE q.completed_at IS NULL AND q.status IN ('ready', 'failed') AND q.run_at <= \(now) AND q.activity = t.activity AND (q.run_at, q.id) < (t.run_at, t.id)
                       LIMIT \(TaskFacts.olderDueTasksCap)) ahead)
            FROM orchestrator.tasks t
            LEFT JOIN orchestrator.activity_limits l ON l.pattern = t.activity_limit
            LEFT JOIN orchestrator.workers o ON o.id = t.lease_owner
            WHERE t.id = ANY(\(ids)::int8[])
            """, logger: logger)
        var facts: [TaskFacts] = []
        for try await row in rows {
            let (id, kind, activity, status, runAt, startedAt, timeoutMilliseconds, owner, silent, lastError, live, able, pattern, maxRunning, running, older) =
                try row.decode((Int64, String, String, String, Date, Date?, Int64, String?, Double?, String?, Int64, Int64, String?, Int32?, Int64, Int64).self)
            facts.append(TaskFacts(
                taskID: id, kind: kind, activity: activity, status: TaskStatus(rawValue: status) ?? .ready, runAt: runAt, startedAt: startedAt,
                timeoutSeconds: Double(timeoutMilliseconds) / 1000, leaseOwner: owner, ownerSilentSeconds: silent,
                lastError: try lastError.map { try JSONValue(json: $0).decode(AttemptError.self) },
                liveWorkers: Int(live), liveWorkersForActivity: Int(able),
                limit: pattern.flatMap { pattern in
                    maxRunning.map { TaskFacts.ActivityLimitUse(pattern: pattern, maxRunning: Int($0), running: Int(running)) }
                },
                olderDueTasks: Int(older)))
        }
        return facts
    }

    /// Every schedule with how far past its next fire time it is: a scheduler that does not run
    /// (or cannot start the type) shows here first.
    func scheduleLags(now: Date, on connection: PostgresConnection) async throws -> [Dashboard.ScheduleLag] {
        let rows = try await connection.query(
            """
            SELECT workflow_type, next_fire_at, greatest(extract(epoch FROM \(now) - next_fire_at), 0)::float8
            FROM orchestrator.schedules ORDER BY workflow_type
            """, logger: logger)
        var lags: [Dashboard.ScheduleLag] = []
        for try await (type, next, late) in rows.decode((String, Date, Double).self) {
            lags.append(.init(type: type, nextFireAt: next, lateBySeconds: late))
        }
        return lags
    }

    func deadLetterGroups(on connection: PostgresConnection) async throws -> [Dashboard.DeadLetterGroup] {
        let rows = try await connection.query(
            """
            SELECT activity, error_code, count(*) FROM orchestrator.dead_letters WHERE status = 'open'
            GROUP BY activity, error_code ORDER BY count(*) DESC, activity, error_code
            """, logger: logger)
        var groups: [Dashboard.DeadLetterGroup] = []
        for try await (activity, code, count) in rows.decode((String, String, Int64).self) {
            groups.append(.init(activity: activity, errorCode: code, open: Int(count)))
        }
        return groups
    }

    func queues(now: Date, on connection: PostgresConnection) async throws -> [Dashboard.Queue] {
        let rows = try await connection.query(
            """
            SELECT activity,
                   count(*) FILTER (WHERE status IN ('ready', 'failed') AND run_at <= \(now)),
                   count(*) FILTER (WHERE status IN ('ready', 'failed') AND run_at > \(now)),
                   count(*) FILTER (WHERE status = 'running'),
                   extract(epoch FROM \(now) - min(run_at) FILTER (WHERE status IN ('ready', 'failed') AND run_at <= \(now)))::float8
            FROM orchestrator.tasks WHERE completed_at IS NULL
            GROUP BY activity ORDER BY activity
            """, logger: logger)
        var queues: [Dashboard.Queue] = []
        for try await (activity, ready, scheduled, running, oldest) in rows.decode((String, Int64, Int64, Int64, Double?).self) {
            queues.append(.init(activity: activity, ready: Int(ready), scheduled: Int(scheduled), running: Int(running), oldestReadyAgeSeconds: oldest))
        }
        return queues
    }

    func liveWorkers(since: Date, on connection: PostgresConnection) async throws -> [Dashboard.WorkerInfo] {
        let rows = try await connection.query(
            """
            SELECT id, host, pid, concurrency, started_at, heartbeat_at FROM orchestrator.workers
            WHERE heartbeat_at >= \(since) AND stopped_at IS NULL ORDER BY started_at
            """, logger: logger)
        var workers: [Dashboard.WorkerInfo] = []
        for try await (id, host, pid, concurrency, startedAt, heartbeatAt) in rows.decode((String, String, Int32, Int32, Date, Date).self) {
            workers.append(.init(id: id, host: host, pid: Int(pid), concurrency: Int(concurrency), startedAt: startedAt, heartbeatAt: heartbeatAt))
        }
        return workers
    }

    func throughput(now: Date, on connection: PostgresConnection) async throws -> Dashboard.Throughput {
        let minute = now.addingTimeInterval(-60)
        let hour = now.addingTimeInterval(-3600)
        let rows = try await connection.query(
            """
            SELECT (SELECT count(*) FROM orchestrator.tasks WHERE completed_at >= \(minute) AND status = 'completed' AND kind = 'activity'),
                   (SELECT count(*) FROM orchestrator.tasks WHERE completed_at >= \(hour) AND status = 'completed' AND kind = 'activity'),
                   (SELECT count(*) FROM orchestrator.workflows WHERE completed_at >= \(minute)),
                   (SELECT count(*) FROM orchestrator.workflows WHERE completed_at >= \(hour))
            """, logger: logger)
        for try await (tasksMinute, tasksHour, workflowsMinute, workflowsHour) in rows.decode((Int64, Int64, Int64, Int64).self) {
            return .init(tasksLastMinute: Int(tasksMinute), tasksLastHour: Int(tasksHour), workflowsEndedLastMinute: Int(workflowsMinute), workflowsEndedLastHour: Int(workflowsHour))
        }
        return .init(tasksLastMinute: 0, tasksLastHour: 0, workflowsEndedLastMinute: 0, workflowsEndedLastHour: 0)
    }

    /// Live instances by type and status (terminal ones are history, counted by throughput).
    func activeWorkflowCounts(on connection: PostgresConnection) async throws -> [Dashboard.ActiveWorkflows] {
        let rows = try await connection.query(
            """
            SELECT type, status, count(*) FROM orchestrator.workflows
            WHERE status IN ('running', 'waiting', 'dead_lettered') GROUP BY type, status ORDER BY type, status
            """, logger: logger)
        var counts: [Dashboard.ActiveWorkflows] = []
        for try await (type, status, count) in rows.decode((String, String, Int64).self) {
            counts.append(.init(type: type, status: status, count: Int(count)))
        }
        return counts
    }
}
