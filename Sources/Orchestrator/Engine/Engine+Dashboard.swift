import Foundation
import PostgresNIO

extension Engine {
    /// Assembles the dashboard in one read-only transaction (a consistent snapshot).
    /// `lateAfter` overrides the configured threshold (the ops `late` command takes it as a flag).
    public func dashboard(lateAfter: Duration? = nil, lateLimit: Int = 100) async throws -> Dashboard {
        let now = clock.now()
        let thresholds = Dictionary(uniqueKeysWithValues: catalog.all.compactMap { definition in
            definition.lateAfter.map { (definition.type, $0) }
        })
        return try await transaction { connection in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger)
            let groups = try await store.deadLetterGroups(on: connection)
            return Dashboard(
                generatedAt: now,
                lateTasks: try await store.lateTasks(now: now, lateAfter: lateAfter ?? configuration.lateAfter, thresholds: thresholds, limit: lateLimit, on: connection),
                openDeadLetters: groups.reduce(0) { $0 + $1.open },
                deadLetterGroups: groups,
                queues: try await store.queues(now: now, on: connection),
                workers: try await store.liveWorkers(since: now.addingTimeInterval(-30), on: connection),
                throughput: try await store.throughput(now: now, on: connection),
                activeWorkflows: try await store.activeWorkflowCounts(on: connection))
        }
    }
}
