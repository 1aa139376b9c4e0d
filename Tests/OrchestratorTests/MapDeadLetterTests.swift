import Foundation
import Orchestrator
import PostgresNIO
import Testing

/// A dead-lettered map item frees its slot, and no dead letter outlives the state it belongs to.
@Suite struct MapDeadLetterTests {
    static let serialMap = """
        type: serial_map
        start: each
        states:
          each:
            map: {items: $.input.items, task: script, input: {item: $.item, fail_codes: $.input.fail_codes}, max_concurrency: 1}
            next: done
            catch: [{errors: [item_failed], next: partial}]
          done: {succeed: true, output: $.each}
          partial: {fail: {error: partial_failure}}
        """

    @Test func aDeadLetteredItemFreesItsSlotForTheNextItems() async throws {
        try await TestDatabase.withHarness(workflows: [Self.serialMap]) { harness in
            let workflow = try await harness.start("serial_map", input: ["items": [0, 1, 2], "fail_codes": ["0": "boom"]])
            try await harness.drain()
            #expect(try await harness.engine.workflow(workflow.id).status == .deadLettered)
            let statuses = try await harness.query(
                "SELECT status FROM orchestrator.tasks WHERE workflow_id = \(workflow.id) ORDER BY item_index", as: String.self)
            #expect(statuses == ["dead", "completed", "completed"])
        }
    }

    @Test func aCaughtSiblingClosesTheOpenDeadLetterOfTheStateItLeaves() async throws {
        try await TestDatabase.withHarness(workflows: [Self.serialMap]) { harness in
            let workflow = try await harness.start("serial_map", input: ["items": [0, 1, 2], "fail_codes": ["0": "boom", "1": "item_failed"]])
            try await harness.drain()
            let ended = try await harness.engine.workflow(workflow.id)
            #expect(ended.status == .failed && ended.error?.code == "partial_failure")
            let letter = try #require(try await harness.engine.deadLetters(.init(workflowID: workflow.id)).first)
            #expect(letter.status == .discarded)
            #expect(letter.resolvedBy == "engine")
            #expect(try await harness.engine.history(workflow.id).contains { $0.type == .deadLetterDiscarded })
        }
    }

    @Test func discardingADeadLetterOfAFinishedWorkflowClosesIt() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.flaky]) { harness in
            let workflow = try await harness.start("flaky", input: ["fail": "card_declined", "retryable": false])
            try await harness.drain()
            let letter = try #require(try await harness.engine.deadLetters(.init(workflowID: workflow.id)).first)
            // A row left open by an older version while its workflow ended.
            _ = try await harness.client.withConnection { connection in
                try await connection.query("UPDATE orchestrator.workflows SET status = 'completed' WHERE id = \(workflow.id)", logger: harness.logger)
            }
            let discarded = try await harness.engine.discardDeadLetter(letter.id, by: "ops")
            #expect(discarded.status == .discarded)
            await ExecutionTests.expectCode(.deadLetterResolved) { _ = try await harness.engine.retryDeadLetter(letter.id, by: "ops") }
        }
    }
}
