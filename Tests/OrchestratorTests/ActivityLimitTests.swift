import Activities
import Foundation
@testable import Orchestrator
import PostgresNIO
import Testing

/// Per-activity limits live in the database: every process sees and enforces the same ones, they
/// hold under concurrent claimers, limited work is not starved, and changing them strands nothing.
@Suite struct ActivityLimitTests {
    static let limited = """
        type: limited
        start: pay
        states:
          pay: {task: noop, next: done}
          done: {succeed: true}
        """

    static let scripted = """
        type: scripted
        start: call
        states:
          call: {task: script, next: done}
          done: {succeed: true}
        """

    static func limits(_ text: String) throws -> Engine.Configuration {
        var configuration = Engine.Configuration()
        configuration.activityLimits = try ActivityLimit.parseList(text)
        return configuration
    }

    static func runningCount(_ harness: TestHarness) async throws -> Int64 {
        try await harness.query("SELECT count(*) FROM orchestrator.tasks WHERE status = 'running'", as: Int64.self).first ?? -1
    }

    @Test func concurrentClaimersNeverExceedTheLimit() async throws {
        try await TestDatabase.withHarness(workflows: [Self.limited], configuration: try Self.limits("noop=3")) { harness in
            for _ in 0..<12 { _ = try await harness.start("limited") }
            // Hold the group's row while three claimers queue up behind it, then let three tasks run.
            let blocker = try await PostgresConnection.connect(configuration: harness.database.connectionConfiguration(), id: 9, logger: harness.logger)
            try await blocker.query("BEGIN", logger: harness.logger)
            try await blocker.query("SELECT 1 FROM orchestrator.activity_limits FOR UPDATE", logger: harness.logger)
            try await withThrowingTaskGroup(of: Int.self) { claimers in
                for owner in ["a", "b", "c"] {
                    claimers.addTask { try await harness.engine.queue.claim(owner: owner, limit: 10).count }
                }
                let deadline = ContinuousClock.now + .seconds(20)
                var waiting: Int64 = 0
                while waiting < 3, ContinuousClock.now < deadline {
                    waiting = try await harness.query(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'", as: Int64.self).first ?? 0
                    try await Task.sleep(for: .milliseconds(20))
                }
                try await blocker.query(
                    """
                    UPDATE orchestrator.tasks SET status = 'running', attempt = 1, lease_owner = 'blocker', lease_expires_at = now() + interval '1 hour'
                    WHERE id IN (SELECT id FROM orchestrator.tasks ORDER BY id LIMIT 3)
                    """, logger: harness.logger)
                try await blocker.query("COMMIT", logger: harness.logger)
                let claimed = try await claimers.reduce(0, +)
                #expect(claimed == 0)
            }
            try await blocker.close()
            #expect(try await Self.runningCount(harness) == 3)
        }
    }

    @Test func aProcessStartedWithoutTheSettingEnforcesAndServesTheStoredLimit() async throws {
        try await TestDatabase.withHarness(workflows: [Self.limited], configuration: try Self.limits("noop=1")) { harness in
            for _ in 0..<3 { _ = try await harness.start("limited") }
            let plain = Engine(pool: harness.pool, clock: harness.clock, logger: harness.logger)
            try await plain.install(harness.engine.definitions)
            #expect(try await plain.queue.claim(owner: "plain", limit: 10).count == 1)
            #expect(try await plain.queue.claim(owner: "plain", limit: 10).isEmpty)
            #expect(try await plain.operations.activityLimits() == [ActivityLimit(pattern: "noop", maxRunning: 1)])
        }
    }

    @Test func removingOrRaisingALimitReleasesTheWaitingTasks() async throws {
        try await TestDatabase.withHarness(workflows: [Self.limited], configuration: try Self.limits("noop=1")) { harness in
            for _ in 0..<4 { _ = try await harness.start("limited") }
            #expect(try await harness.engine.queue.claim(owner: "w", limit: 10).count == 1)
            try await harness.engine.operations.setActivityLimits([ActivityLimit(pattern: "noop", maxRunning: 2)])
            #expect(try await harness.engine.queue.claim(owner: "w", limit: 10).count == 1)
            try await harness.engine.operations.removeActivityLimit(pattern: "noop")
            #expect(try await harness.engine.queue.claim(owner: "w", limit: 10).count == 2)
            #expect(try await harness.engine.operations.activityLimits().isEmpty)
        }
    }

    @Test func aNewLimitAppliesToTasksAlreadyQueued() async throws {
        try await TestDatabase.withHarness(workflows: [Self.limited]) { harness in
            for _ in 0..<4 { _ = try await harness.start("limited") }
            try await harness.engine.operations.setActivityLimits([ActivityLimit(pattern: "noop", maxRunning: 1)])
            #expect(try await harness.engine.queue.claim(owner: "w", limit: 10).count == 1)
        }
    }

    @Test func aLimitSetWhileATransitionWritesTasksCoversThoseTasksToo() async throws {
        try await TestDatabase.withHarness(workflows: [Self.limited]) { harness in
            // A start that has written its task (stamped from the limits it saw) but not committed.
            let gate = Gate()
            let inFlight = Task {
                try await harness.engine.transaction { connection in
                    _ = try await harness.engine.lifecycle.start(StartRequest(type: "limited"), on: connection)
                    try await gate.enter()
                }
            }
            try await gate.waitUntilEntered()
            let change = Task { try await harness.engine.operations.setActivityLimits([ActivityLimit(pattern: "noop", maxRunning: 1)]) }
            try await Task.sleep(for: .milliseconds(300))
            gate.open()
            try await inFlight.value
            try await change.value
            #expect(try await harness.query("SELECT activity_limit FROM orchestrator.tasks", as: String?.self) == ["noop"])
        }
    }

    @Test func limitedTasksAreClaimedBesideABacklogOfUnlimitedOnes() async throws {
        try await TestDatabase.withHarness(workflows: [Self.limited, Self.scripted], configuration: try Self.limits("script=2")) { harness in
            for _ in 0..<20 { _ = try await harness.start("limited") }
            harness.clock.advance(by: .seconds(1))
            for _ in 0..<3 { _ = try await harness.start("scripted") }
            let claimed = try await harness.engine.queue.claim(owner: "w", limit: 4)
            #expect(claimed.count == 4)
            #expect(claimed.contains { $0.activity == "script" })
            #expect(claimed.filter { $0.activity == "script" }.count <= 2)
        }
    }

    @Test func aWorkerClaimsOnlyTheActivitiesItHas() async throws {
        try await TestDatabase.withHarness(workflows: [Self.scripted]) { harness in
            let workflow = try await harness.start("scripted")
            var noopOnly = ActivityRegistry()
            noopOnly.register(NoopActivity())
            let partial = Worker(engine: harness.engine, registry: noopOnly, database: harness.database, configuration: .init(id: "partial", concurrency: 4), logger: harness.logger)
            #expect(try await partial.runDue() == 0)
            #expect(try await harness.engine.operations.deadLetters().isEmpty)
            try await harness.drain()
            #expect(try await harness.engine.reads.workflow(workflow.id).status == .completed)
        }
    }
}
