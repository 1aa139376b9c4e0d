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

    /// Due schedules, locked so concurrent schedulers each take different ones.
    func lockDueSchedules(now: Date, on connection: PostgresConnection) async throws -> [(type: String, cron: String, fireAt: Date)] {
        let rows = try await connection.query(
            """
            SELECT workflow_type, cron, next_fire_at FROM orchestrator.schedules
            WHERE next_fire_at <= \(now) ORDER BY next_fire_at FOR UPDATE SKIP LOCKED
            """, logger: logger)
        var due: [(String, String, Date)] = []
        for try await row in rows.decode((String, String, Date).self) { due.append(row) }
        return due.map { (type: $0.0, cron: $0.1, fireAt: $0.2) }
    }

    func advanceSchedule(type: String, fired: Date, next: Date, on connection: PostgresConnection) async throws {
        try await connection.query(
            "UPDATE orchestrator.schedules SET last_fired_at = \(fired), next_fire_at = \(next) WHERE workflow_type = \(type)",
            logger: logger)
    }

    // MARK: Workers

    func heartbeat(workerID: String, host: String, pid: Int, concurrency: Int, now: Date, on connection: PostgresConnection) async throws {
        try await connection.query(
            """
            INSERT INTO orchestrator.workers (id, host, pid, concurrency, started_at, heartbeat_at)
            VALUES (\(workerID), \(host), \(Int32(pid)), \(Int32(concurrency)), \(now), \(now))
            ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at
            """, logger: logger)
    }

    func markStopped(workerID: String, now: Date, on connection: PostgresConnection) async throws {
        try await connection.query(
            "UPDATE orchestrator.workers SET stopped_at = \(now), heartbeat_at = \(now) WHERE id = \(workerID)", logger: logger)
    }
}
