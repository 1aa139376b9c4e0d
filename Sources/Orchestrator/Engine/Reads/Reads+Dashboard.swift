import Foundation
import PostgresNIO

extension Reads {
    /// Assembles the dashboard in one read-only transaction (a consistent snapshot).
    /// `lateAfter` overrides the configured threshold (the ops `late` command takes it as a flag).
    /// `explainingLateTasks`: find each late task's cause (one more query; a metrics scrape, which
    /// only counts late tasks, goes without).
    public func dashboard(lateAfter: Duration? = nil, lateLimit: Int = 100, explainingLateTasks: Bool = true) async throws -> Dashboard {
        let now = clock.now()
        let thresholds = Dictionary(uniqueKeysWithValues: catalog.all.compactMap { definition in
            definition.lateAfter.map { (definition.type, $0) }
        })
        return try await transaction { connection in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger)
            let groups = try await store.deadLetterGroups(on: connection)
            var late = try await store.lateTasks(now: now, lateAfter: lateAfter ?? configuration.lateAfter, thresholds: thresholds, limit: lateLimit, on: connection)
            if explainingLateTasks, !late.isEmpty {
                let facts = try await store.taskFacts(late.map(\.taskID), now: now, on: connection)
                let causes = Dictionary(uniqueKeysWithValues: facts.map { ($0.taskID, TaskDelayCause.decide($0, now: now)) })
                for index in late.indices { late[index].cause = causes[late[index].taskID] }
            }
            var dashboard = Dashboard(
                generatedAt: now,
                lateTasks: late,
                openDeadLetters: groups.reduce(0) { $0 + $1.open },
                deadLetterGroups: groups,
                queues: try await store.queues(now: now, on: connection),
                workers: try await store.liveWorkers(since: now.addingTimeInterval(-30), on: connection),
                throughput: try await store.throughput(now: now, on: connection),
                activeWorkflows: try await store.activeWorkflowCounts(on: connection))
            dashboard.schedules = try await store.scheduleLags(now: now, on: connection)
            return dashboard
        }
    }

    /// Why a task has not run, or not finished, yet, answered from the database.
    public func delay(ofTask taskID: Int64) async throws -> (facts: TaskFacts, cause: TaskDelayCause) {
        let now = clock.now()
        let facts = try await client.withConnection { try await store.taskFacts([taskID], now: now, on: $0) }
        guard let found = facts.first else { throw OrchestratorError(.taskNotFound, "no task \(taskID)") }
        return (found, TaskDelayCause.decide(found, now: now))
    }
}
