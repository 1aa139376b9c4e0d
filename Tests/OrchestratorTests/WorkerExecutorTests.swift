import Foundation
import Orchestrator
import PostgresNIO
import Testing

/// `orchestrator worker` runs Swift concurrency on NIO's event loops (`WorkerExecutor`); `serve`
/// keeps Swift's own pool. An activity of the test server reports where it ran.
@Suite struct WorkerExecutorTests {
    static let yaml = """
        type: where
        start: report
        states:
          report: {task: test.report_executor, next: done}
          done: {succeed: true}
        """

    static var registry: ActivityRegistry {
        var registry = TestDatabase.registry()
        registry.register("test.report_executor") { input, _ in input }
        return registry
    }

    @Test func aWorkerProcessRunsItsTasksOnTheEventLoopsAndAnAPIServerOnSwiftsPool() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Executable.testServerURL.path))
        // The harness clock starts at the real time, so the processes (on the real clock) see the tasks as due.
        try await TestDatabase.withHarness(workflows: [Self.yaml], registry: Self.registry, clockStart: Date()) { harness in
            let folder = try Executable.temporaryFolder()
            defer { try? FileManager.default.removeItem(at: folder) }
            try Self.yaml.write(to: folder.appendingPathComponent("where.yaml"), atomically: true, encoding: .utf8)

            let byWorker = try await harness.start("where").id
            let (worker, output) = try Executable.spawn(
                ["worker", "--workers", "1", "--workflows-dir", folder.path, "--database-url", harness.databaseURL], in: folder,
                executable: Executable.testServerURL)
            let ranOnWorker = try await Self.whereItRan(byWorker, harness)
            await worker.stop(grace: .seconds(5))
            #expect(ranOnWorker == "true", "\((try? String(contentsOf: output, encoding: .utf8)) ?? "")")

            let server = try await DurabilityTests.server(harness, [Self.yaml], ["--workers", "1"])
            let byServer = try await harness.start("where").id
            let ranOnServer = try await Self.whereItRan(byServer, harness)
            await server.stop()
            #expect(ranOnServer == "false", "\(server.log)")
        }
    }

    /// The activity's answer once the workflow has completed (bounded wait), or `nil`.
    static func whereItRan(_ id: String, _ harness: TestHarness) async throws -> String? {
        try await DurabilityTests.waitForCount(
            harness, "SELECT count(*) FROM orchestrator.workflows WHERE id = \(id) AND status = 'completed'", 1, timeout: .seconds(60))
        return try await harness.query(
            "SELECT data->'result'->>'on_event_loop' FROM orchestrator.events WHERE workflow_id = \(id) AND type = 'task_completed'",
            as: String.self
        ).first
    }
}
