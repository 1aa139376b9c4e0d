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
            #expect(try await harness.engine.reads.workflow(workflow.id).status == .deadLettered)
            let statuses = try await harness.query(
                "SELECT status FROM orchestrator.tasks WHERE workflow_id = \(workflow.id) ORDER BY item_index", as: String.self)
            #expect(statuses == ["dead", "completed", "completed"])
        }
    }

    /// A retried item holds a slot again, and its result takes its place in the list.
    @Test func aRetriedDeadItemCompletesTheMap() async throws {
        try await TestDatabase.withHarness(workflows: [Self.serialMap]) { harness in
            let workflow = try await harness.start("serial_map", input: ["items": [0, 1, 2], "fail_codes": ["0": "boom"]])
            try await harness.drain()
            #expect(try await harness.engine.reads.workflow(workflow.id).status == .deadLettered)
            let letter = try #require(try await harness.engine.operations.deadLetters().first)
            _ = try await harness.engine.operations.retryDeadLetter(letter.id, by: "ops", inputPatch: ["fail_codes": nil])
            try await harness.drain()
            let done = try await harness.engine.reads.workflow(workflow.id)
            #expect(done.status == .completed)
            #expect(done.output?.arrayValue?.compactMap { $0["echo"]?["item"] } == [0, 1, 2])
        }
    }

    @Test func aCaughtSiblingClosesTheOpenDeadLetterOfTheStateItLeaves() async throws {
        try await TestDatabase.withHarness(workflows: [Self.serialMap]) { harness in
            let workflow = try await harness.start("serial_map", input: ["items": [0, 1, 2], "fail_codes": ["0": "boom", "1": "item_failed"]])
            try await harness.drain()
            let ended = try await harness.engine.reads.workflow(workflow.id)
            #expect(ended.status == .failed && ended.error?.code == "partial_failure")
            let letter = try #require(try await harness.engine.operations.deadLetters(.init(workflowID: workflow.id)).first)
            #expect(letter.status == .discarded)
            #expect(letter.resolvedBy == "engine")
            #expect(try await harness.engine.reads.history(workflow.id).contains { $0.type == .deadLetterDiscarded })
        }
    }

    @Test func discardingADeadLetterOfAFinishedWorkflowClosesIt() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.flaky]) { harness in
            let workflow = try await harness.start("flaky", input: ["fail": "card_declined", "retryable": false])
            try await harness.drain()
            let letter = try #require(try await harness.engine.operations.deadLetters(.init(workflowID: workflow.id)).first)
            // A row left open by an older version while its workflow ended.
            _ = try await harness.client.withConnection { connection in
                try await connection.query("UPDATE orchestrator.workflows SET status = 'completed' WHERE id = \(workflow.id)", logger: harness.logger)
            }
            let discarded = try await harness.engine.operations.discardDeadLetter(letter.id, by: "ops")
            #expect(discarded.status == .discarded)
            await ExecutionTests.expectCode(.deadLetterResolved) { _ = try await harness.engine.operations.retryDeadLetter(letter.id, by: "ops") }
        }
    }
}

/// Cancel (instance, then its dead letters) and dead-letter resolution lock in the same order.
@Suite struct LockOrderTests {
    @Test func cancellingWhileOpsResolveTheDeadLetterNeverDeadlocks() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.flaky]) { harness in
            var letters: [(workflow: String, letter: Int64)] = []
            for _ in 0..<30 {
                let workflow = try await harness.start("flaky", input: ["fail": "card_declined", "retryable": false])
                letters.append((workflow.id, 0))
            }
            try await harness.drain()
            for index in letters.indices {
                letters[index].letter = try #require(try await harness.engine.operations.deadLetters(.init(workflowID: letters[index].workflow)).first?.id)
            }
            let unexpected = try await withThrowingTaskGroup(of: String?.self) { group in
                for (workflow, letter) in letters {
                    group.addTask { await Self.unexpected { _ = try await harness.engine.lifecycle.cancel(workflowID: workflow) } }
                    group.addTask { await Self.unexpected { _ = try await harness.engine.operations.discardDeadLetter(letter, by: "ops") } }
                    group.addTask { await Self.unexpected { _ = try await harness.engine.operations.retryDeadLetter(letter, by: "ops") } }
                }
                return try await group.reduce(into: [String]()) { if let error = $1 { $0.append(error) } }
            }
            #expect(unexpected.isEmpty, "\(unexpected)")
        }
    }

    /// A failure other than the answers racing operations expect (already resolved, already ended).
    static func unexpected(_ body: () async throws -> Void) async -> String? {
        do {
            try await body()
            return nil
        } catch let error as OrchestratorError where [.deadLetterResolved, .workflowNotActive].contains(error.code) {
            return nil
        } catch {
            return String(reflecting: error)
        }
    }
}
