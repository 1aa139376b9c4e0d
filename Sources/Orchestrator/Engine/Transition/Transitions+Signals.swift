import Foundation
import PostgresNIO

extension Transitions {
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
}
