import Foundation
@testable import Orchestrator
import PostgresNIO
import Testing

/// The hot statements keep their plans whatever the statistics say about the queue: grown tables
/// analyzed while the queue was empty (what a quiet night's autovacuum leaves), then a busy queue.
/// Each statement is planned as the generic plan a prepared statement ends up with, and must use
/// the one index it is shaped for.
@Suite struct QueryPlanTests {
    /// The indexes the generic plan of a prepared site reads.
    static func indexes(of site: String, on connection: PostgresConnection, logger: Logger) async throws -> Set<String> {
        let sql = PreparedQueryTexts.text(for: site)
        #expect(!sql.isEmpty, "\(site) ran before it is explained")
        let parameters = Set(sql.matches(of: /\$([0-9]+)/).compactMap { Int($0.1) }).count
        try await connection.query("SET plan_cache_mode = force_generic_plan", logger: logger)
        try await connection.query("PREPARE explained AS \(unescaped: sql)", logger: logger)
        defer { Task { try? await connection.query("DEALLOCATE explained", logger: logger) } }
        let nulls = Array(repeating: "NULL", count: parameters).joined(separator: ", ")
        let rows = try await connection.query("EXPLAIN (FORMAT JSON) EXECUTE explained(\(unescaped: nulls))", logger: logger)
        var plan = ""
        for try await text in rows.decode(String.self) { plan += text }
        try await connection.query("DEALLOCATE explained", logger: logger)
        return Set(plan.matches(of: /"Index Name": "([a-z_]+)"/).map { String($0.1) })
    }

    @Test func claimFenceAndSaveUseTheirOwnIndexesAfterAnAnalyzeTakenWhileTheQueueWasEmpty() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            // One real claim of each kind and one fence, so each site's statement is recorded.
            _ = try await harness.start("chain")
            _ = try await harness.drain()
            try await harness.client.withConnection { connection in
                _ = try await harness.engine.store.claim(
                    .limited(pattern: "none"), owner: "w", limit: 1, activities: nil, now: Date(), grace: .seconds(1), on: connection)
            }

            // 20,000 finished workflows and tasks, analyzed with no task open...
            try await harness.client.withConnection { connection in
                try await connection.query(
                    """
                    INSERT INTO orchestrator.workflows (id, type, version, status, input, context, request_hash, created_at, updated_at, completed_at)
                    SELECT 'old-' || g, type, version, 'completed', '{}', '{}', 'h', now(), now(), now()
                    FROM generate_series(1, 20000) g, (SELECT type, version FROM orchestrator.definitions LIMIT 1) d
                    """, logger: harness.logger)
                try await connection.query(
                    """
                    INSERT INTO orchestrator.tasks (workflow_id, state, visit, kind, activity, input, status, max_attempts, run_at,
                                                    timeout_ms, idempotency_key, created_at, completed_at)
                    SELECT 'old-' || g, 'step1', 1, 'activity', 'noop', '{}', 'completed', 3, now(), 10000, 'old-' || g, now(), now()
                    FROM generate_series(1, 20000) g
                    """, logger: harness.logger)
                try await connection.query("VACUUM ANALYZE orchestrator.tasks", logger: harness.logger)
                try await connection.query("VACUUM ANALYZE orchestrator.workflows", logger: harness.logger)
                // ...then a busy queue the statistics do not know about: 3,000 ready, 2,000 running.
                try await connection.query(
                    """
                    INSERT INTO orchestrator.tasks (workflow_id, state, visit, kind, activity, input, status, max_attempts, run_at,
                                                    timeout_ms, idempotency_key, created_at, lease_owner, lease_number, lease_expires_at, started_at)
                    SELECT 'old-' || g, 'step1', 2, 'activity', 'noop', '{}', CASE WHEN g <= 2000 THEN 'running' ELSE 'ready' END, 3,
                           now() - interval '1 minute', 10000, 'busy-' || g, now(), CASE WHEN g <= 2000 THEN 'w' END, 1,
                           CASE WHEN g <= 2000 THEN now() + interval '1 hour' END, CASE WHEN g <= 2000 THEN now() END
                    FROM generate_series(1, 5000) g
                    """, logger: harness.logger)

                let unlimited = try await Self.indexes(of: HotQuery.ClaimUnlimited.name, on: connection, logger: harness.logger)
                #expect(unlimited.contains("tasks_claim") && unlimited.isDisjoint(with: ["tasks_unfinished", "tasks_running"]), "\(unlimited)")
                let limited = try await Self.indexes(of: HotQuery.ClaimLimited.name, on: connection, logger: harness.logger)
                #expect(limited.contains("tasks_claim_limited") && limited.isDisjoint(with: ["tasks_unfinished", "tasks_running"]), "\(limited)")
                let fence = try await Self.indexes(of: HotQuery.EndAttempts.name, on: connection, logger: harness.logger)
                #expect(fence == ["tasks_pkey"], "the fence finds its tasks by primary key, not by walking running tasks: \(fence)")
                let lock = try await Self.indexes(of: HotQuery.LockWorkflows.name, on: connection, logger: harness.logger)
                #expect(lock == ["workflows_pkey"], "\(lock)")
                let save = try await Self.indexes(of: HotQuery.Save.name, on: connection, logger: harness.logger)
                // The save's own fence (for completions decided from snapshots) finds tasks by key too.
                #expect(save == ["workflows_pkey", "tasks_pkey"], "\(save)")
            }
        }
    }
}
