import Activities
import Foundation
import Orchestrator
import PostgresNIO
import Testing

/// A real `orchestrator worker` process is killed with SIGKILL in the middle of its tasks; another
/// worker finishes every workflow and no state is entered twice.
@Suite struct CrashRecoveryTests {
    static let yaml = """
        type: crashy
        start: slow
        states:
          slow: {task: sleep, input: {duration: 3s}, timeout: 20s, next: after}
          after: {task: noop, next: done}
          done: {succeed: true}
        """

    @Test func killedWorkerProcessLosesNothingAndEntersNoStateTwice() async throws {
        try #require(Executable.exists, "build the orchestrator executable first")
        var registry = TestDatabase.registry()
        registry.register(SleepActivity())
        // The harness clock starts at the real time, so the child process (on the real clock) sees the tasks as due.
        try await TestDatabase.withHarness(workflows: [Self.yaml], registry: registry, clockStart: Date()) { harness in
            let folder = try Executable.temporaryFolder()
            defer { try? FileManager.default.removeItem(at: folder) }
            try Self.yaml.write(to: folder.appendingPathComponent("crashy.yaml"), atomically: true, encoding: .utf8)

            var ids: [String] = []
            for _ in 0..<6 { ids.append(try await harness.start("crashy").id) }

            let (child, _) = try Executable.spawn(
                ["worker", "--workers", "4", "--workflows-dir", folder.path, "--database-url", harness.databaseURL], in: folder)

            // Wait until the child holds leases, then kill it mid-task.
            var running: Int64 = 0
            let deadline = ContinuousClock.now + .seconds(60)
            while running < 4, ContinuousClock.now < deadline {
                running = try await harness.query("SELECT count(*) FROM orchestrator.tasks WHERE status = 'running'", as: Int64.self).first ?? 0
                try await Task.sleep(for: .milliseconds(50))
            }
            child.send(SIGKILL)
            #expect(await child.exit(within: .seconds(30)) == .signal(SIGKILL))
            #expect(running == 4)

            // Past the leases (20s timeout + 5s grace), the rescuer returns the tasks; after their backoff a new worker finishes.
            harness.clock.set(Date().addingTimeInterval(30))
            #expect(try await harness.engine.queue.rescueExpiredLeases() == 4)
            harness.clock.advance(by: .seconds(1))  // the retry policy's backoff
            try await harness.drain()
            for id in ids {
                #expect(try await harness.engine.reads.workflow(id).status == .completed)
                #expect(try await harness.stateEntries(id) == ["slow", "after", "done"])
            }
            let rescued = try await harness.query(
                "SELECT count(*) FROM orchestrator.events WHERE type = 'task_failed' AND data->'error'->>'code' = 'lease_expired'", as: Int64.self)
            #expect(rescued == [4])
        }
    }
}
