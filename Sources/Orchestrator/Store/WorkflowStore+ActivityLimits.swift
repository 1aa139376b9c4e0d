import Foundation
import PostgresNIO

extension WorkflowStore {
    func activityLimits(on connection: PostgresConnection) async throws -> [ActivityLimit] {
        let rows = try await connection.query(
            "SELECT pattern, max_running FROM orchestrator.activity_limits ORDER BY pattern", logger: logger)
        var limits: [ActivityLimit] = []
        for try await (pattern, maxRunning) in rows.decode((String, Int32).self) {
            limits.append(ActivityLimit(pattern: pattern, maxRunning: Int(maxRunning)))
        }
        return limits
    }

    func upsertActivityLimit(_ limit: ActivityLimit, on connection: PostgresConnection) async throws {
        try await connection.query(
            """
            INSERT INTO orchestrator.activity_limits (pattern, exact, prefix, max_running)
            VALUES (\(limit.pattern.pattern), \(limit.exactActivity), \(limit.activityPrefix), \(Int32(limit.maxRunning)))
            ON CONFLICT (pattern) DO UPDATE SET max_running = EXCLUDED.max_running
            """, logger: logger)
    }

    /// `false` when no limit had this pattern.
    func deleteActivityLimit(pattern: String, on connection: PostgresConnection) async throws -> Bool {
        let rows = try await connection.query(
            "DELETE FROM orchestrator.activity_limits WHERE pattern = \(pattern) RETURNING 1", logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// The transactions in progress now, as a `pg_snapshot` in its text form.
    func transactionsInProgress(on connection: PostgresConnection) async throws -> String {
        let rows = try await connection.query("SELECT pg_current_snapshot()::text", logger: logger)
        for try await snapshot in rows.decode(String.self) { return snapshot }
        throw OrchestratorError(.database, "the database did not report its snapshot")
    }

    /// Whether any transaction in progress in `snapshot` still is.
    func anyStillInProgress(_ snapshot: String, on connection: PostgresConnection) async throws -> Bool {
        let rows = try await connection.query(
            """
            SELECT EXISTS (SELECT 1 FROM pg_snapshot_xip(\(snapshot)::pg_snapshot) AS x WHERE pg_xact_status(x) = 'in progress')
            """, logger: logger)
        for try await running in rows.decode(Bool.self) { return running }
        return false
    }

    /// Stamps every unfinished task with the limit it counts against now.
    func restampActivityLimits(on connection: PostgresConnection) async throws {
        try await connection.query(
            """
            UPDATE orchestrator.tasks SET activity_limit = orchestrator.activity_limit_of(activity)
            WHERE completed_at IS NULL AND kind = 'activity'
              AND activity_limit IS DISTINCT FROM orchestrator.activity_limit_of(activity)
            """, logger: logger)
    }

    /// Locks a limit's row so its claimers queue up, then (in a statement of its own, so it sees
    /// every claim committed before the lock was granted) counts its running tasks.
    /// `nil` when the limit no longer exists.
    func lockActivityLimit(_ pattern: String, on connection: PostgresConnection) async throws -> (maxRunning: Int, running: Int)? {
        var maxRunning: Int?
        let locked = try await connection.query(
            "SELECT max_running FROM orchestrator.activity_limits WHERE pattern = \(pattern) FOR UPDATE", logger: logger)
        for try await value in locked.decode(Int32.self) { maxRunning = Int(value) }
        guard let maxRunning else { return nil }
        let counted = try await connection.query(
            "SELECT count(*) FROM orchestrator.tasks WHERE status = 'running' AND activity_limit = \(pattern)", logger: logger)
        for try await running in counted.decode(Int64.self) { return (maxRunning, Int(running)) }
        return (maxRunning, 0)
    }
}
