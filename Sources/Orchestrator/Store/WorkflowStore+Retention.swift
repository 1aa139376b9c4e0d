import Foundation
import PostgresNIO

extension WorkflowStore {
    /// Deletes up to `limit` finished instances (completed, failed, cancelled) that ended before
    /// their type's cutoff (`cutoffs`, else `defaultCutoff`), with their tasks, events, signals,
    /// map items and dead letters, in one statement. Rows another transaction holds are skipped; a child
    /// still running keeps going without its parent link. Returns how many instances went.
    ///
    /// The oldest go first, along `workflows_completed_at` from the latest cutoff down, so one
    /// batch reads about what it deletes.
    func pruneFinishedWorkflows(defaultCutoff: Date, cutoffs: [String: Date], limit: Int, on connection: PostgresConnection) async throws -> Int {
        let overrides = Array(cutoffs)
        let latest = ([defaultCutoff] + cutoffs.values).max() ?? defaultCutoff
        let rows = try await connection.query(
            """
            WITH doomed AS (
                SELECT w.id FROM orchestrator.workflows w
                LEFT JOIN unnest(\(overrides.map(\.key))::text[], \(overrides.map(\.value))::timestamptz[]) AS o(type, cutoff)
                    ON o.type = w.type
                WHERE w.completed_at < \(latest) AND w.completed_at < coalesce(o.cutoff, \(defaultCutoff))
                  AND w.status IN ('completed', 'failed', 'cancelled')
                ORDER BY w.completed_at LIMIT \(limit)
                FOR UPDATE OF w SKIP LOCKED),
            orphans AS (
                UPDATE orchestrator.workflows SET parent_id = NULL, parent_state = NULL, parent_visit = NULL
                WHERE parent_id IN (SELECT id FROM doomed) AND id NOT IN (SELECT id FROM doomed)),
            dead_letters AS (DELETE FROM orchestrator.dead_letters WHERE workflow_id IN (SELECT id FROM doomed)),
            signals AS (DELETE FROM orchestrator.signals WHERE workflow_id IN (SELECT id FROM doomed)),
            map_items AS (DELETE FROM orchestrator.map_items WHERE workflow_id IN (SELECT id FROM doomed)),
            events AS (DELETE FROM orchestrator.events WHERE workflow_id IN (SELECT id FROM doomed)),
            tasks AS (DELETE FROM orchestrator.tasks WHERE workflow_id IN (SELECT id FROM doomed))
            DELETE FROM orchestrator.workflows WHERE id IN (SELECT id FROM doomed)
            RETURNING 1
            """, logger: logger)
        var deleted = 0
        for try await _ in rows { deleted += 1 }
        return deleted
    }
}
