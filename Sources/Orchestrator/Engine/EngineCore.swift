import Foundation
import Logging
import PostgresNIO

/// What every part of the engine shares: the database, its statements, the clock, the
/// definitions. Each part (`TaskQueue`, `WorkflowLifecycle`, `Transitions`, `Operations`,
/// `Reads`) is a value holding this core, so parts are free to make and call one another.
struct EngineCore: Sendable {
    let pool: DatabasePool
    let store: WorkflowStore
    let clock: any WallClock
    let logger: Logger
    let configuration: Engine.Configuration
    let catalog: DefinitionCatalog
    let claimPlanner: ClaimPlanner

    /// The pool to lease from now (`DatabasePool` may replace it).
    var client: PostgresClient { pool.client }

    /// Runs `body` in a transaction; the body's own error is rethrown as it was thrown. What its
    /// statements leave for after the commit (`AfterCommit`) is done once it has committed.
    @discardableResult
    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            let (value, afterCommit) = try await client.withTransaction(logger: logger) { connection in
                let afterCommit = AfterCommit(on: connection)
                return (try await AfterCommit.$current.withValue(afterCommit) { try await body(connection) }, afterCommit)
            }
            afterCommit.committed()
            return value
        } catch let error as PostgresTransactionError {
            if let closureError = error.closureError { throw closureError }
            throw error
        }
    }
}

/// A part of the engine: its members reach the shared core and the other parts by name.
protocol EnginePart: Sendable {
    var core: EngineCore { get }
}

extension EnginePart {
    var client: PostgresClient { core.client }
    var store: WorkflowStore { core.store }
    var clock: any WallClock { core.clock }
    var logger: Logger { core.logger }
    var configuration: Engine.Configuration { core.configuration }
    var catalog: DefinitionCatalog { core.catalog }
    var claimPlanner: ClaimPlanner { core.claimPlanner }

    var lifecycle: WorkflowLifecycle { WorkflowLifecycle(core: core) }
    var transitions: Transitions { Transitions(core: core) }
    var operations: Operations { Operations(core: core) }

    @discardableResult
    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await core.transaction(body)
    }

    /// The state machine of the definition version an instance is pinned to.
    func machine(for workflow: LockedWorkflow, on connection: PostgresConnection) async throws -> StateMachine {
        StateMachine(try await catalog.definition(type: workflow.type, version: workflow.version, store: store, on: connection))
    }

    /// Locks an instance for a transition (`LockedWorkflow`), or throws `workflow.not_found`.
    func lockExistingWorkflow(_ id: String, now: Date, on connection: PostgresConnection) async throws -> LockedWorkflow {
        guard let workflow = try await store.lockWorkflow(id, now: now, on: connection) else {
            throw OrchestratorError(.workflowNotFound, "no workflow '\(id)'")
        }
        return workflow
    }

    /// The instance as clients see it, or `workflow.not_found`.
    func existingWorkflow(_ id: String, on connection: PostgresConnection) async throws -> WorkflowRecord {
        guard let record = try await store.workflow(id, on: connection) else {
            throw OrchestratorError(.workflowNotFound, "no workflow '\(id)'")
        }
        return record
    }

    func tooManyItems(_ count: Int, state: String) -> OrchestratorError {
        OrchestratorError(.tooManyItems, "state '\(state)' would fan out to \(count) items; at most \(configuration.maxMapItems) are allowed (ORCHESTRATOR_MAX_MAP_ITEMS)")
    }
}
