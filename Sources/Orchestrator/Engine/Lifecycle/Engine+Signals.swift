import Foundation
import PostgresNIO

extension Engine {
    /// Delivers a signal: consumed at once if the instance waits for it, else buffered until it does.
    /// A repeated `idempotencyKey` for the same signal is a no-op.
    public func signal(workflowID: String, name: String, payload: JSONValue = .emptyObject, idempotencyKey: String? = nil) async throws -> SignalDelivery {
        try Self.checkIdentifier(name, named: "a signal name")
        if let idempotencyKey { try Self.checkIdentifier(idempotencyKey, named: "an idempotency key") }
        try Self.checkDepth(of: payload, named: "a signal's payload")
        return try await transaction { connection in
            let now = clock.now()
            guard var workflow = try await store.lockWorkflow(workflowID, now: now, on: connection) else {
                throw OrchestratorError(.workflowNotFound, "no workflow '\(workflowID)'")
            }
            guard workflow.isActive else {
                // A client retrying a delivered signal gets the same answer, even after the end.
                if let idempotencyKey, try await store.signalExists(workflowID: workflowID, name: name, idempotencyKey: idempotencyKey, on: connection) {
                    return .duplicate
                }
                throw OrchestratorError(.workflowNotActive, "workflow '\(workflowID)' is already \(workflow.status.rawValue)")
            }
            let delivery = try await deliver(name, payload: payload, idempotencyKey: idempotencyKey, to: &workflow, on: connection)
            if delivery != .duplicate { try await store.save(workflow, on: connection) }
            return delivery
        }
    }

    /// Stores a signal for a locked, active instance and, if it waits for that name, consumes it
    /// and moves on. A repeated `idempotencyKey` for the same signal changes nothing. A name no
    /// `wait_for` of the instance's pinned definition declares is refused: it could never be consumed.
    func deliver(_ name: String, payload: JSONValue, idempotencyKey: String?, to workflow: inout LockedWorkflow, on connection: PostgresConnection) async throws -> SignalDelivery {
        let now = workflow.now
        let machine = try await self.machine(for: workflow, on: connection)
        let accepted = machine.definition.signalNames
        guard accepted.contains(name) else {
            let known = accepted.isEmpty ? "it accepts no signals" : "it accepts \(accepted.map { "'\($0)'" }.joined(separator: ", "))"
            throw OrchestratorError(.unknownSignal, "a \(workflow.type) never waits for a signal '\(name)': \(known)")
        }
        let consumedNow = workflow.status == .waiting && workflow.waitingFor.contains(name)
        switch try await store.insertSignal(
            workflowID: workflow.id, name: name, payload: payload, idempotencyKey: idempotencyKey,
            bufferLimit: consumedNow ? nil : configuration.maxBufferedSignals, now: now, on: connection)
        {
        case .stored:
            break
        case .duplicate:
            return .duplicate
        case .bufferFull:
            throw OrchestratorError(.signalBufferFull, "workflow '\(workflow.id)' holds \(configuration.maxBufferedSignals) signals it has not waited for yet; no more are buffered (ORCHESTRATOR_MAX_BUFFERED_SIGNALS)")
        }
        workflow.addEvent(.signalReceived, state: workflow.state, data: ["name": .string(name), "payload": payload])
        guard consumedNow, let state = workflow.state,
            let (oldest, oldestPayload) = try await store.consumeSignal(workflowID: workflow.id, names: [name], now: now, on: connection)
        else {
            return .buffered
        }
        try await store.cancelTasks(workflowID: workflow.id, visit: workflow.visit, kind: .timer, now: now, on: connection)
        try await apply(machine.received(oldest, payload: oldestPayload, in: state, context: workflow.context, now: now), to: &workflow, machine: machine, on: connection)
        return .consumed
    }

    /// Cancels an instance: its tasks stop, its open dead letters are discarded, and its
    /// `on_cancel` state (compensation) runs if it has one; it ends `cancelled` either way.
    public func cancel(workflowID: String, reason: String? = nil, by actor: String = "api") async throws -> WorkflowRecord {
        try await transaction { connection in
            let now = clock.now()
            guard var workflow = try await store.lockWorkflow(workflowID, now: now, on: connection) else {
                throw OrchestratorError(.workflowNotFound, "no workflow '\(workflowID)'")
            }
            if workflow.status == .cancelled || workflow.cancelRequested { return try await existingWorkflow(workflowID, on: connection) }
            guard workflow.isActive else {
                throw OrchestratorError(.workflowNotActive, "workflow '\(workflowID)' is already \(workflow.status.rawValue)")
            }
            try await store.cancelTasks(workflowID: workflowID, visit: nil, now: now, on: connection)
            _ = try await store.discardDeadLetters(workflowID: workflowID, by: actor, now: now, on: connection)
            workflow.cancelRequested = true
            let machine = try await self.machine(for: workflow, on: connection)
            if let onCancel = machine.definition.onCancel {
                try await apply(machine.enter(onCancel, context: workflow.context, now: now), to: &workflow, machine: machine, on: connection)
            } else {
                workflow.status = .cancelled
                EngineMetrics.workflowEnded(type: workflow.type, status: .cancelled)
                workflow.addEvent(.workflowCancelled, state: workflow.state, data: ["reason": reason.map(JSONValue.string) ?? .null, "by": .string(actor)])
            }
            try await store.save(workflow, on: connection)
            return try await existingWorkflow(workflowID, on: connection)
        }
    }

    func machine(for workflow: LockedWorkflow, on connection: PostgresConnection) async throws -> StateMachine {
        StateMachine(try await catalog.definition(type: workflow.type, version: workflow.version, store: store, on: connection))
    }
}
