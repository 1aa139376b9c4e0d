import Foundation
@testable import Orchestrator
import PostgresNIO
import Testing

/// A map's items are resolved once, when the map is entered, and its progress is kept on the
/// workflow: an item's completion reads neither its siblings nor the context.
@Suite struct MapProgressTests {
    static let batches = """
        type: batches
        start: each
        states:
          each: {map: {items: $.input.items, task: noop, input: {sku: $.item, at: $.index}, max_concurrency: 3}, next: done}
          done: {succeed: true, output: $.each}
        """

    static func expected(_ count: Int) -> JSONValue {
        .array((0..<count).map { ["sku": .string("s\($0)"), "at": .number(Double($0))] })
    }

    @Test func theItemsAreResolvedOnceWhenTheMapIsEntered() async throws {
        try await TestDatabase.withHarness(workflows: [Self.batches]) { harness in
            let items = JSONValue.array((0..<10).map { .string("s\($0)") })
            let workflow = try await harness.start("batches", input: ["items": items])
            // Changing the input behind the engine's back changes nothing: the inputs waiting for
            // a slot were resolved when the map was entered, and no completion reads the input.
            _ = try await harness.query(
                "UPDATE orchestrator.workflows SET input = '{\"items\": []}' WHERE id = \(workflow.id) RETURNING 1", as: Int32.self)
            let waiting = try await harness.query(
                "SELECT count(*) FROM orchestrator.map_items WHERE workflow_id = \(workflow.id)", as: Int64.self)
            #expect(waiting == [7])
            try await harness.drain()
            let done = try await harness.engine.reads.workflow(workflow.id)
            #expect(done.status == .completed)
            #expect(done.output == Self.expected(10))
            let left = try await harness.query("SELECT count(*) FROM orchestrator.map_items WHERE workflow_id = \(workflow.id)", as: Int64.self)
            #expect(left == [0])
        }
    }

    @Test func aMapEnteredBeforeItsProgressWasKeptFinishesTheOldWay() async throws {
        try await TestDatabase.withHarness(workflows: [Self.batches]) { harness in
            let workflow = try await harness.start("batches", input: ["items": .array((0..<8).map { .string("s\($0)") })])
            // As a map entered before migration 0013 looks: no progress, no waiting inputs.
            _ = try await harness.query(
                """
                WITH gone AS (DELETE FROM orchestrator.map_items WHERE workflow_id = \(workflow.id))
                UPDATE orchestrator.workflows SET map_progress = NULL WHERE id = \(workflow.id) RETURNING 1
                """, as: Int32.self)
            try await harness.drain()
            let done = try await harness.engine.reads.workflow(workflow.id)
            #expect(done.status == .completed)
            #expect(done.output == Self.expected(8))
        }
    }

    @Test func aCancelledMapDropsTheItemsStillWaiting() async throws {
        try await TestDatabase.withHarness(workflows: [Self.batches]) { harness in
            let workflow = try await harness.start("batches", input: ["items": .array((0..<6).map { .string("s\($0)") })])
            _ = try await harness.engine.lifecycle.cancel(workflowID: workflow.id, reason: "test")
            let left = try await harness.query("SELECT count(*) FROM orchestrator.map_items WHERE workflow_id = \(workflow.id)", as: Int64.self)
            #expect(left == [0])
        }
    }
}
