import Foundation
import PostgresNIO

extension WorkflowStore {
    /// Serializes limit changes against transitions: every transition takes this advisory lock
    /// shared (when it locks or inserts its instance, before it writes tasks), a limit change takes
    /// it exclusively. So a task is stamped either before a change (and restamped by it) or after.
    static let activityLimitsLock: Int64 = 0x6F72_6368_6C69_6D

    func activityLimits(on connection: PostgresConnection) async throws -> [ActivityLimit] {
        let rows = try await connection.query(
            "SELECT pattern, max_running FROM orchestrator.activity_limits ORDER BY pattern", logger: logger)
        var limits: [ActivityLimit] = []
        for try await (pattern, maxRunning) in rows.decode((String, Int32).self) {
            limits.append(ActivityLimit(pattern: pattern, maxRunning: Int(maxRunning)))
        }
        return limits
    }

    /// Waits for transitions in flight to commit and keeps new ones out until this transaction ends.
    func lockActivityLimitsExclusively(on connection: PostgresConnection) async throws {
        try await connection.query("SELECT pg_advisory_xact_lock(\(Self.activityLimitsLock))", logger: logger)
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

    /// Stamps every unfinished task with the limit it counts against now.
    func restampActivityLimits(on connection: PostgresConnection) async throws {
        try await connection.query(
            """
            UPDATE orchestrator.tasks SET activity_limit = orchestrator.activity_limit_of(activity)
            WHERE status IN ('ready', 'failed', 'running') AND kind = 'activity'
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
