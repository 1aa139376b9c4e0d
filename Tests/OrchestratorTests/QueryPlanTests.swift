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
        let plan = try await genericPlan(of: site, on: connection, logger: logger)
        return Set(plan.matches(of: /"Index Name": "([a-z_]+)"/).map { String($0.1) })
    }

    /// The tables the generic plan of a prepared site reads whole.
    static func sequentialScans(of site: String, on connection: PostgresConnection, logger: Logger) async throws -> Set<String> {
        let plan = try await genericPlan(of: site, on: connection, logger: logger)
        return Set(plan.matches(of: /"Node Type": "Seq Scan"[^{}]*?"Relation Name": "([a-z_]+)"/).map { String($0.1) })
    }

    /// The generic plan of a prepared site, in JSON.
    static func genericPlan(of site: String, on connection: PostgresConnection, logger: Logger) async throws -> String {
        let sql = PreparedQueryTexts.text(for: site)
        #expect(!sql.isEmpty, "\(site) ran before it is explained")
        let parameters = Set(sql.matches(of: /\$([0-9]+)/).compactMap { Int($0.1) }).count
        try await connection.query("SET plan_cache_mode = force_generic_plan", logger: logger)
        try await connection.query("PREPARE explained AS \(unescaped: sql)", logger: logger)
        // Deallocated in order, before the next call prepares it again (a deferred task could run
        // after that call's PREPARE and deallocate its statement).
        do {
            let nulls = Array(repeating: "NULL", count: parameters).joined(separator: ", ")
            let rows = try await connection.query("EXPLAIN (FORMAT JSON) EXECUTE explained(\(unescaped: nulls))", logger: logger)
            var plan = ""
            for try await text in rows.decode(String.self) { plan += text }
            try await connection.query("DEALLOCATE explained", logger: logger)
            return plan
        } catch {
            _ = try? await connection.query("DEALLOCATE explained", logger: logger)
            throw error
        }
    }

    /// A new install, or the first minute of a benchmark: the tables grew from nothing and
    /// autovacuum has not analyzed them yet. A generic plan made now is kept until it does; one
    /// that read a whole table would cost more with every row (before, the save's instance lock and
    /// fence were sequential scans hashed against the parameters, and a latency run spent half of
    /// PostgreSQL's time in them).
    @Test func claimFenceAndSaveUseTheirOwnIndexesOnTablesNeverAnalyzed() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            try await Self.runHotStatements(harness)
            try await harness.client.withConnection { connection in
                try await Self.insertFinished(2_000, on: connection, logger: harness.logger)
                let sites = [HotQuery.ClaimUnlimited.name, HotQuery.ClaimLimited.name, HotQuery.LockWorkflows.name, HotQuery.EndAttempts.name, HotQuery.Save.name]
                for site in sites {
                    let scanned = try await Self.sequentialScans(of: site, on: connection, logger: harness.logger)
                    #expect(scanned.isDisjoint(with: ["workflows", "tasks", "events"]), "\(site) reads whole tables: \(scanned)")
                }
            }
        }
    }

    /// A prepared statement's point: PostgreSQL plans it a few times, then keeps a generic plan
    /// when that costs no more than the custom ones. A shape whose generic plan looks dearer (a
    /// parameter array's length guessed as 10) is planned again at every call: 1.4 ms for the save,
    /// twice its execution.
    @Test func theInstanceLockAndTheSaveKeepAGenericPlanOnTheirConnection() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            let workflow = try await harness.start("chain")
            try await harness.client.withConnection { connection in
                for _ in 0..<8 {
                    let locked = try #require(try await harness.engine.store.lockWorkflows([workflow.id], now: Date(), on: connection)[workflow.id])
                    let condition = SnapshotCondition(workflowID: workflow.id, rowVersion: "1", taskID: 1, leaseNumber: 1, result: .null)
                    let written = try await harness.engine.store.saveIfUnchanged([locked], conditions: [condition], dispatch: nil, on: connection)
                    #expect(written.isEmpty, "a stale row version writes nothing")
                }
                let rows = try await connection.query(
                    "SELECT name, generic_plans, custom_plans FROM pg_prepared_statements WHERE name LIKE 'orchestrator_%'", logger: harness.logger)
                var plans: [String: (generic: Int64, custom: Int64)] = [:]
                for try await (name, generic, custom) in rows.decode((String, Int64, Int64).self) { plans[name] = (generic, custom) }
                for site in [HotQuery.LockWorkflows.name, HotQuery.Save.name] {
                    #expect((plans[site]?.generic ?? 0) > 0, "\(site) planned at every call: \(String(describing: plans[site]))")
                }
            }
        }
    }

    /// One real claim of each kind, fence and save, so each site's statement is recorded.
    static func runHotStatements(_ harness: TestHarness) async throws {
        _ = try await harness.start("chain")
        _ = try await harness.drain()
        try await harness.client.withConnection { connection in
            _ = try await harness.engine.store.claim(
                .limited(pattern: "none"), owner: "w", limit: 1, activities: nil, now: Date(), grace: .seconds(1), on: connection)
        }
    }

    /// `count` finished workflows, each with one finished task.
    static func insertFinished(_ count: Int, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO orchestrator.workflows (id, type, version, status, input, context, request_hash, created_at, updated_at, completed_at)
            SELECT 'old-' || g, type, version, 'completed', '{}', '{}', 'h', now(), now(), now()
            FROM generate_series(1, \(count)) g, (SELECT type, version FROM orchestrator.definitions LIMIT 1) d
            """, logger: logger)
        try await connection.query(
            """
            INSERT INTO orchestrator.tasks (workflow_id, state, visit, kind, activity, input, status, max_attempts, run_at,
                                            timeout_ms, idempotency_key, created_at, completed_at)
            SELECT 'old-' || g, 'step1', 1, 'activity', 'noop', '{}', 'completed', 3, now(), 10000, 'old-' || g, now(), now()
            FROM generate_series(1, \(count)) g
            """, logger: logger)
    }

    @Test func claimFenceAndSaveUseTheirOwnIndexesAfterAnAnalyzeTakenWhileTheQueueWasEmpty() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            try await Self.runHotStatements(harness)

            // 20,000 finished workflows and tasks, analyzed with no task open...
            try await harness.client.withConnection { connection in
                try await Self.insertFinished(20_000, on: connection, logger: harness.logger)
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

    /// Only the instances started with an idempotency key have an entry in its unique index (a
    /// keyless instance cost two entries for nothing: its insert and its end), and the lookup of a
    /// key is served by that index.
    @Test func onlyInstancesStartedWithAKeyAreInTheKeyIndex() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            for i in 0..<3 { _ = try await harness.engine.lifecycle.start(StartRequest(type: "chain", input: ["i": .number(Double(i))])) }
            let keyed = try await harness.engine.lifecycle.start(StartRequest(type: "chain", input: ["i": 9], idempotencyKey: "key-9"))
            try await harness.client.withConnection { connection in
                try await connection.query("ANALYZE orchestrator.workflows", logger: harness.logger)
                let entries = try await harness.query(
                    "SELECT reltuples::int8 FROM pg_class WHERE oid = 'orchestrator.workflows_idempotency_key'::regclass", as: Int64.self)
                #expect(entries == [1])
                try await connection.query("SET enable_seqscan = off", logger: harness.logger)
                let rows = try await connection.query(
                    "EXPLAIN (FORMAT JSON) SELECT id FROM orchestrator.workflows WHERE idempotency_key = \("key-9")", logger: harness.logger)
                var plan = ""
                for try await text in rows.decode(String.self) { plan += text }
                #expect(plan.contains("\"Index Name\": \"workflows_idempotency_key\""), "\(plan)")
            }
            let again = try await harness.engine.lifecycle.start(StartRequest(type: "chain", input: ["i": 9], idempotencyKey: "key-9"))
            #expect(!again.created && again.workflow.id == keyed.workflow.id)
        }
    }
}
