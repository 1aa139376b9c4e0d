import Foundation
import PostgresNIO

extension WorkflowStore {
    /// Registers or updates a type's schedule; a changed cron expression restarts its timetable.
    func saveSchedule(type: String, cron: String, firstFire: Date, on connection: PostgresConnection) async throws {
        try await connection.query(
            """
            INSERT INTO orchestrator.schedules (workflow_type, cron, next_fire_at) VALUES (\(type), \(cron), \(firstFire))
            ON CONFLICT (workflow_type) DO UPDATE SET cron = EXCLUDED.cron,
                next_fire_at = CASE WHEN orchestrator.schedules.cron = EXCLUDED.cron THEN orchestrator.schedules.next_fire_at
                                    ELSE EXCLUDED.next_fire_at END
            """, logger: logger)
    }

    func deleteSchedules(except types: [String], among known: [String], on connection: PostgresConnection) async throws {
        try await connection.query(
            """
            DELETE FROM orchestrator.schedules WHERE workflow_type = ANY(\(known)::text[]) AND NOT workflow_type = ANY(\(types)::text[])
            """, logger: logger)
    }

    /// The types among `types` whose next fire time has come.
    func dueSchedules(types: [String], now: Date, on connection: PostgresConnection) async throws -> [String] {
        let rows = try await connection.query(
            """
            SELECT workflow_type FROM orchestrator.schedules
            WHERE next_fire_at <= \(now) AND workflow_type = ANY(\(types)::text[]) ORDER BY next_fire_at
            """, logger: logger)
        var due: [String] = []
        for try await type in rows.decode(String.self) { due.append(type) }
        return due
    }

    /// A due schedule, locked; `nil` when another scheduler holds it or fired it meanwhile.
    func lockDueSchedule(type: String, now: Date, on connection: PostgresConnection) async throws -> (cron: String, fireAt: Date)? {
        let rows = try await connection.query(
            """
            SELECT cron, next_fire_at FROM orchestrator.schedules
            WHERE workflow_type = \(type) AND next_fire_at <= \(now) FOR UPDATE SKIP LOCKED
            """, logger: logger)
        for try await (cron, fireAt) in rows.decode((String, Date).self) { return (cron, fireAt) }
        return nil
    }

    func advanceSchedule(type: String, fired: Date, next: Date, on connection: PostgresConnection) async throws {
        try await connection.query(
            "UPDATE orchestrator.schedules SET last_fired_at = \(fired), next_fire_at = \(next) WHERE workflow_type = \(type)",
            logger: logger)
    }

    // MARK: Workers

    func heartbeat(
        workerID: String, host: String, pid: Int, concurrency: Int, activities: [String], now: Date, on connection: PostgresConnection
    ) async throws {
        try await connection.query(
            """
            INSERT INTO orchestrator.workers (id, host, pid, concurrency, activities, started_at, heartbeat_at)
            VALUES (\(workerID), \(host), \(Int32(pid)), \(Int32(concurrency)), \(activities), \(now), \(now))
            ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at, activities = EXCLUDED.activities
            """, logger: logger)
    }

    func markStopped(workerID: String, now: Date, on connection: PostgresConnection) async throws {
        try await connection.query(
            "UPDATE orchestrator.workers SET stopped_at = \(now), heartbeat_at = \(now) WHERE id = \(workerID)", logger: logger)
    }

    /// Deletes the rows of workers not heard from since `silentSince` (stopped, or died without
    /// saying so): the table holds the live workers and recent history, not every process ever run.
    func forgetWorkers(silentSince: Date, on connection: PostgresConnection) async throws -> Int {
        let rows = try await connection.query(
            "DELETE FROM orchestrator.workers WHERE heartbeat_at < \(silentSince) RETURNING 1", logger: logger)
        var deleted = 0
        for try await _ in rows { deleted += 1 }
        return deleted
    }
}
