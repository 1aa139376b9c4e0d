import Foundation
import PostgresNIO

extension Engine {
    /// Runs a dead-lettered task again with fresh attempts; the instance resumes. Once per dead letter.
    public func retryDeadLetter(_ id: Int64, by actor: String) async throws -> DeadLetterRecord {
        try await transaction { connection in
            let now = clock.now()
            var workflow = try await lockWorkflow(ofDeadLetter: id, now: now, on: connection)
            let deadLetter = try await resolve(id, as: .retried, by: actor, now: now, on: connection)
            guard workflow.isActive else {
                throw OrchestratorError(.workflowNotActive, "workflow '\(workflow.id)' is already \(workflow.status.rawValue): its task cannot run again; discard dead letter \(id) instead")
            }
            guard try await store.requeueTask(deadLetter.taskID, now: now, on: connection) else {
                throw OrchestratorError(.deadLetterResolved, "the task of dead letter \(id) is no longer dead")
            }
            workflow.record(.deadLetterRetried, state: deadLetter.state, data: ["dead_letter_id": .string(String(id)), "by": .string(actor)])
            if workflow.status == .deadLettered, try await store.openDeadLetterCount(workflowID: workflow.id, on: connection) == 0 {
                workflow.status = .running
            }
            try await store.save(workflow, on: connection)
            try await store.notifyWorkers(on: connection)
            return deadLetter
        }
    }

    /// Gives up on a dead-lettered task: the instance takes its `on_discard` path, or fails with the
    /// task's error code. Once per dead letter; on an instance that has ended, only closes the row.
    public func discardDeadLetter(_ id: Int64, by actor: String) async throws -> DeadLetterRecord {
        try await transaction { connection in
            let now = clock.now()
            var workflow = try await lockWorkflow(ofDeadLetter: id, now: now, on: connection)
            let deadLetter = try await resolve(id, as: .discarded, by: actor, now: now, on: connection)
            workflow.record(.deadLetterDiscarded, state: deadLetter.state, data: ["dead_letter_id": .string(String(id)), "by": .string(actor)])
            guard workflow.isActive else {
                try await store.save(workflow, on: connection)
                return deadLetter
            }
            try await store.cancelTasks(workflowID: workflow.id, visit: nil, now: now, on: connection)
            _ = try await store.discardDeadLetters(workflowID: workflow.id, by: actor, now: now, on: connection)
            let machine = try await self.machine(for: workflow, on: connection)
            if let onDiscard = machine.definition.onDiscard {
                try await apply(machine.enter(onDiscard, context: workflow.context, now: now), to: &workflow, machine: machine, on: connection)
            } else {
                let failure = StateMachine.WorkflowFailure(code: deadLetter.errorCode, message: "dead letter \(id) (\(deadLetter.activity)) discarded by \(actor)")
                try await apply(.init(entered: [], context: workflow.context, landing: .failed(failure)), to: &workflow, machine: machine, on: connection)
            }
            try await store.save(workflow, on: connection)
            return deadLetter
        }
    }

    /// Locks the instance a dead letter belongs to: instance first, dead letter after, the order
    /// every transition locks in.
    private func lockWorkflow(ofDeadLetter id: Int64, now: Date, on connection: PostgresConnection) async throws -> LockedWorkflow {
        guard let deadLetter = try await store.deadLetter(id, on: connection) else {
            throw OrchestratorError(.deadLetterNotFound, "no dead letter \(id)")
        }
        guard let workflow = try await store.lockWorkflow(deadLetter.workflowID, now: now, on: connection) else {
            throw OrchestratorError(.workflowNotFound, "no workflow '\(deadLetter.workflowID)'")
        }
        return workflow
    }

    private func resolve(_ id: Int64, as status: DeadLetterRecord.Status, by actor: String, now: Date, on connection: PostgresConnection) async throws -> DeadLetterRecord {
        if let resolved = try await store.resolveDeadLetter(id, as: status, by: actor, now: now, on: connection) { return resolved }
        guard let existing = try await store.deadLetter(id, on: connection) else {
            throw OrchestratorError(.deadLetterNotFound, "no dead letter \(id)")
        }
        throw OrchestratorError(.deadLetterResolved, "dead letter \(id) was already \(existing.status.rawValue) by \(existing.resolvedBy ?? "unknown")")
    }

    public func deadLetter(_ id: Int64) async throws -> DeadLetterRecord {
        let found = try await client.withConnection { try await store.deadLetter(id, on: $0) }
        guard let found else { throw OrchestratorError(.deadLetterNotFound, "no dead letter \(id)") }
        return found
    }

    public func deadLetters(_ filter: DeadLetterFilter = .init(), limit: Int = 50, before cursor: Int64? = nil) async throws -> [DeadLetterRecord] {
        try await client.withConnection { try await store.deadLetters(filter, limit: limit, before: cursor, on: $0) }
    }
}
