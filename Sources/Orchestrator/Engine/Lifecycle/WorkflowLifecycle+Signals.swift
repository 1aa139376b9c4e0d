import Foundation
import PostgresNIO

extension WorkflowLifecycle {
    /// Delivers a signal: consumed at once if the instance waits for it, else buffered until it does.
    /// A repeated `idempotencyKey` for the same signal is a no-op.
    public func signal(workflowID: String, name: String, payload: JSONValue = .emptyObject, idempotencyKey: String? = nil) async throws -> SignalDelivery {
        try InputCheck.identifier(name, named: "a signal name")
        if let idempotencyKey { try InputCheck.identifier(idempotencyKey, named: "an idempotency key") }
        try InputCheck.depth(of: payload, named: "a signal's payload")
        return try await transaction { connection in
            let now = clock.now()
            var workflow = try await lockExistingWorkflow(workflowID, now: now, on: connection)
            guard workflow.isActive else {
                // A client retrying a delivered signal gets the same answer, even after the end.
                if let idempotencyKey, try await store.signalExists(workflowID: workflowID, name: name, idempotencyKey: idempotencyKey, on: connection) {
                    return .duplicate
                }
                throw OrchestratorError(.workflowNotActive, "workflow '\(workflowID)' is already \(workflow.status.rawValue)")
            }
            let delivery = try await transitions.deliver(name, payload: payload, idempotencyKey: idempotencyKey, to: &workflow, on: connection)
            if delivery != .duplicate { try await store.save(workflow, on: connection) }
            return delivery
        }
    }

    /// Cancels an instance: its tasks stop, its open dead letters are discarded, and its
    /// `on_cancel` state (compensation) runs if it has one; it ends `cancelled` either way.
    public func cancel(workflowID: String, reason: String? = nil, by actor: String = "api") async throws -> WorkflowRecord {
        try await transaction { connection in
            let now = clock.now()
            var workflow = try await lockExistingWorkflow(workflowID, now: now, on: connection)
            if workflow.status == .cancelled || workflow.cancelRequested { return try await existingWorkflow(workflowID, on: connection) }
            guard workflow.isActive else {
                throw OrchestratorError(.workflowNotActive, "workflow '\(workflowID)' is already \(workflow.status.rawValue)")
            }
            try await store.cancelTasks(workflowID: workflowID, visit: nil, now: now, on: connection)
            _ = try await store.discardDeadLetters(workflowID: workflowID, by: actor, now: now, on: connection)
            workflow.cancelRequested = true
            let machine = try await self.machine(for: workflow, on: connection)
            if let onCancel = machine.definition.onCancel {
                try await transitions.apply(machine.enter(onCancel, context: workflow.context, now: now), to: &workflow, machine: machine, on: connection)
            } else {
                workflow.status = .cancelled
                workflow.addEvent(.workflowCancelled, state: workflow.state, data: ["reason": reason.map(JSONValue.string) ?? .null, "by": .string(actor)])
            }
            try await store.save(workflow, on: connection)
            return try await existingWorkflow(workflowID, on: connection)
        }
    }
}
