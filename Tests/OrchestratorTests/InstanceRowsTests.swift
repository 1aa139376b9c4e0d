import Foundation
@testable import Orchestrator
import PostgresNIO
import Testing

/// No foreign key ties tasks and events to their instance (migration 0014): the engine does. A
/// task or event is never written without its instance row, nor left behind when it goes.
@Suite struct InstanceRowsTests {
    /// A delivery (a signal, a child's result) to an instance past its retention holds the
    /// instance's key until it commits: the pruner skips it meanwhile, and takes it with the new
    /// task afterwards, leaving no task without its instance.
    @Test func aDeliveryInFlightKeepsItsInstanceFromThePrunerAndLeavesNoOrphanTask() async throws {
        try await TestDatabase.withHarness(workflows: [RetentionTests.brief]) { harness in
            let finished = try await harness.start("brief")
            try await harness.drain()
            harness.clock.advance(by: .seconds(2 * 86_400))
            let store = harness.engine.store
            try await harness.client.withConnection { connection in
                try await connection.query("BEGIN", logger: harness.logger)
                let delivered = try await store.enqueueDelivery(
                    to: finished.id, kind: .signal, state: "late", visit: 0, input: ["name": "late"], idempotencyKey: "late-signal",
                    correlationID: nil, now: harness.clock.now(), on: connection)
                #expect(delivered)
                #expect(try await harness.engine.operations.pruneFinishedWorkflows() == 0, "the instance was deleted under the delivery")
                try await connection.query("COMMIT", logger: harness.logger)
            }
            #expect(try await harness.engine.operations.pruneFinishedWorkflows() == 1)
            #expect(try await harness.query("SELECT count(*) FROM orchestrator.tasks WHERE workflow_id = \(finished.id)", as: Int64.self) == [0])
        }
    }

    @Test func aSaveWhoseInstanceRowIsGoneFailsInsteadOfDroppingItsHistory() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            let definition = try #require(harness.engine.definition("chain"))
            var missing = LockedWorkflow(
                id: "never-inserted", type: definition.type, version: definition.version, status: .running, state: nil, context: .emptyObject,
                waitingFor: [], visit: 0, eventSeq: 0, cancelRequested: false, correlationID: nil, parent: nil, now: harness.clock.now())
            missing.addEvent(.workflowStarted, data: [:])
            let store = harness.engine.store
            await #expect(throws: OrchestratorError.self) {
                try await harness.engine.transaction { try await store.save(missing, on: $0) }
            }
            #expect(try await harness.query("SELECT count(*) FROM orchestrator.events WHERE workflow_id = 'never-inserted'", as: Int64.self) == [0])
        }
    }
}
