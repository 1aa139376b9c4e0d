import Foundation
@testable import Orchestrator
import PostgresNIO
import Testing

/// Storage stays bounded: finished workflows go with their history once past their retention,
/// and one workflow cannot record events for ever.
@Suite struct RetentionTests {
    static let brief = """
        type: brief
        retention: 1d
        start: run
        states:
          run: {task: noop, next: done}
          done: {succeed: true}
        """

    static let fragile = """
        type: fragile
        start: run
        states:
          run: {task: script, input: {fail: boom, retryable: false}, next: done}
          done: {succeed: true}
        """

    static let endless = """
        type: endless
        start: step
        states:
          step: {task: noop, next: again}
          again:
            choice:
              - {path: $.input.stop, exists: true, next: done}
            default: step
          done: {succeed: true}
        """

    func rows(_ harness: TestHarness, _ table: String, of id: String) async throws -> Int64 {
        try await harness.query("SELECT count(*) FROM orchestrator.\(unescaped: table) WHERE workflow_id = \(id)", as: Int64.self)[0]
    }

    @Test func finishedWorkflowsPastTheirRetentionGoWithTheirHistoryAndNothingElseDoes() async throws {
        var configuration = Engine.Configuration()
        configuration.retention = .seconds(30 * 86_400)
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain, Self.brief, Self.fragile], configuration: configuration) { harness in
            // Forty days ago: a chain completes, and a fragile one dead-letters and is discarded (failed).
            let old = try await harness.start("chain", input: ["i": 1])
            let discarded = try await harness.start("fragile")
            try await harness.drain()
            let deadLetter = try #require(try await harness.engine.operations.deadLetters().first)
            _ = try await harness.engine.operations.discardDeadLetter(deadLetter.id, by: "ops", reason: "test")
            #expect(try await harness.engine.reads.workflow(discarded.id).status == .failed)
            harness.clock.advance(by: .seconds(20 * 86_400))
            // Twenty days ago: another chain, and one whose type keeps its workflows a day.
            let recent = try await harness.start("chain", input: ["i": 2])
            let brief = try await harness.start("brief")
            try await harness.drain()
            harness.clock.advance(by: .seconds(20 * 86_400))
            // Today: one dead-lettered, and one still running, linked as the child of the old one.
            let stuck = try await harness.start("fragile")
            try await harness.drain()
            #expect(try await harness.engine.reads.workflow(stuck.id).status == .deadLettered)
            let running = try await harness.start("chain", input: ["i": 3])
            _ = try await harness.query(
                "UPDATE orchestrator.workflows SET parent_id = \(old.id), parent_state = 'one', parent_visit = 1 WHERE id = \(running.id) RETURNING 1",
                as: Int32.self)

            // One instance per batch: the pass goes on until a batch comes back short.
            let pruned = try await harness.engine.operations.pruneFinishedWorkflows(batch: 1)
            #expect(pruned == 3)
            for gone in [old.id, discarded.id, brief.id] {
                await #expect(throws: OrchestratorError.self) { try await harness.engine.reads.workflow(gone) }
                for table in ["tasks", "events", "dead_letters", "signals", "map_items"] { #expect(try await rows(harness, table, of: gone) == 0, "\(table) of \(gone)") }
            }
            #expect(try await harness.engine.reads.workflow(recent.id).status == .completed)
            #expect(try await harness.engine.reads.workflow(stuck.id).status == .deadLettered, "a dead-lettered workflow waits for ops, whatever its age")
            #expect(try await harness.engine.reads.workflow(running.id).status == .running)
            #expect(try await harness.query("SELECT parent_id FROM orchestrator.workflows WHERE id = \(running.id)", as: String?.self) == [nil])
            #expect(try await harness.engine.operations.pruneFinishedWorkflows() == 0)
        }
    }

    @Test func aWorkflowThatWouldRecordEventsForEverFailsAtTheCap() async throws {
        var configuration = Engine.Configuration()
        configuration.maxEventsPerWorkflow = 40
        try await TestDatabase.withHarness(workflows: [Self.endless], configuration: configuration) { harness in
            let workflow = try await harness.start("endless")
            try await harness.drain()
            let ended = try await harness.engine.reads.workflow(workflow.id)
            #expect(ended.status == .failed)
            #expect(ended.error?.code == "workflow.history_full")
            let events = try await harness.engine.reads.history(workflow.id)
            #expect((40...45).contains(events.count), "\(events.count) events")
            #expect(events.last?.type == .workflowFailed)
        }
    }

    @Test func aHistoryIsReadAPageAtATime() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            let workflow = try await harness.start("chain", input: ["i": 1])
            try await harness.drain()
            let all = try await harness.engine.reads.history(workflow.id)
            var pages: [[Int]] = []
            var after: Int?
            while true {
                let page = try await harness.engine.reads.history(workflow.id, after: after, limit: 4)
                pages.append(page.events.map(\.seq))
                guard page.more else { break }
                after = page.events.last?.seq
            }
            #expect(pages.flatMap { $0 } == all.map(\.seq))
            #expect(pages.dropLast().allSatisfy { $0.count == 4 })
            #expect(pages.count == (all.count + 3) / 4)
        }
    }
}
