import Foundation
import PostgresNIO

extension Operations {
    /// Runs a dead-lettered task again with fresh attempts and the same idempotency key; the
    /// instance resumes. Once per dead letter. `inputPatch` (a JSON Merge Patch object) changes
    /// the task's input first, e.g. to correct a value that made it fail.
    public func retryDeadLetter(_ id: Int64, by actor: String, reason: String? = nil, inputPatch: JSONValue? = nil) async throws -> DeadLetterRecord {
        if let inputPatch {
            guard case .object = inputPatch else { throw OrchestratorError(.invalidInput, "an input patch must be a JSON object (RFC 7396)") }
            try InputCheck.depth(of: inputPatch, named: "an input patch")
        }
        return try await transaction { connection in
            let now = clock.now()
            var workflow = try await lockWorkflow(ofDeadLetter: id, now: now, on: connection)
            let deadLetter = try await resolve(id, as: .retried, by: actor, reason: reason, now: now, on: connection)
            guard workflow.isActive else {
                throw OrchestratorError(.workflowNotActive, "workflow '\(workflow.id)' is already \(workflow.status.rawValue): its task cannot run again; discard dead letter \(id) instead")
            }
            var input: JSONValue?
            if let inputPatch, let current = try await store.taskInput(deadLetter.taskID, on: connection) {
                input = current.merging(patch: inputPatch)
            }
            guard let requeued = try await store.requeueTask(deadLetter.taskID, input: input, now: now, on: connection) else {
                throw OrchestratorError(.deadLetterResolved, "the task of dead letter \(id) is no longer dead")
            }
            // A map item back in flight holds a slot again.
            if requeued.itemIndex != nil, workflow.mapProgress?.visit == requeued.visit { workflow.mapProgress?.dead -= 1 }
            workflow.addEvent(.deadLetterRetried, state: deadLetter.state, data: Self.resolutionData(id, by: actor, reason: reason, inputPatch: inputPatch))
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
    public func discardDeadLetter(_ id: Int64, by actor: String, reason: String? = nil) async throws -> DeadLetterRecord {
        try await transaction { connection in
            let now = clock.now()
            var workflow = try await lockWorkflow(ofDeadLetter: id, now: now, on: connection)
            let deadLetter = try await resolve(id, as: .discarded, by: actor, reason: reason, now: now, on: connection)
            workflow.addEvent(.deadLetterDiscarded, state: deadLetter.state, data: Self.resolutionData(id, by: actor, reason: reason, inputPatch: nil))
            guard workflow.isActive else {
                try await store.save(workflow, on: connection)
                return deadLetter
            }
            try await store.cancelTasks(workflowID: workflow.id, visit: nil, now: now, on: connection)
            _ = try await store.discardDeadLetters(workflowID: workflow.id, by: actor, now: now, on: connection)
            let machine = try await self.machine(for: workflow, on: connection)
            if let onDiscard = machine.definition.onDiscard {
                try await transitions.apply(machine.enter(onDiscard, context: workflow.context, now: now), to: &workflow, machine: machine, on: connection)
            } else {
                let failure = StateMachine.WorkflowFailure(code: deadLetter.errorCode, message: "dead letter \(id) (\(deadLetter.activity)) discarded by \(actor)")
                try await transitions.apply(.init(entered: [], context: workflow.context, landing: .failed(failure)), to: &workflow, machine: machine, on: connection)
            }
            try await store.save(workflow, on: connection)
            return deadLetter
        }
    }

    /// Retries or discards every open dead letter `filter` matches, oldest first, at most `limit`
    /// in this call, each in its own transaction (one that fails is reported, the others go on).
    /// A `dryRun` only counts. The request is recorded with its actor, reason, filter and counts.
    public func resolveDeadLetters(
        _ action: DeadLetterResolution.Action, matching filter: DeadLetterFilter, by actor: String, reason: String,
        inputPatch: JSONValue? = nil, dryRun: Bool = false, limit: Int = 1000
    ) async throws -> DeadLetterResolution {
        if inputPatch != nil, action == .discard { throw OrchestratorError(.invalidInput, "only a retry takes an input patch") }
        guard dryRun || !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw OrchestratorError(.invalidInput, "a reason is required: it is kept with every dead letter this resolves")
        }
        let (ids, matched, newest) = try await client.withConnection { try await store.openDeadLetterIDs(filter, limit: dryRun ? 0 : limit, on: $0) }
        var covered = filter
        covered.upToID = filter.upToID ?? newest
        if dryRun {
            return DeadLetterResolution(action: action, dryRun: true, matched: matched, resolved: 0, failures: [], remaining: matched, upToID: covered.upToID)
        }
        var resolved = 0
        var failures: [DeadLetterResolution.Failure] = []
        for id in ids {
            do {
                switch action {
                case .retry: _ = try await retryDeadLetter(id, by: actor, reason: reason, inputPatch: inputPatch)
                case .discard: _ = try await discardDeadLetter(id, by: actor, reason: reason)
                }
                resolved += 1
            } catch let error as OrchestratorError where error.code == .deadLetterResolved {
                continue  // closed meanwhile: by someone else, or with a sibling of its workflow
            } catch let error as OrchestratorError {
                failures.append(.init(deadLetterID: id, code: error.code.rawValue, message: error.message))
            }
        }
        let remaining = try await client.withConnection { try await store.openDeadLetterIDs(covered, limit: 0, on: $0).total }
        let resolution = DeadLetterResolution(
            action: action, dryRun: false, matched: matched, resolved: resolved, failures: failures, remaining: remaining, upToID: covered.upToID)
        try await transaction { connection in
            try await store.recordDeadLetterAction(
                resolution, filter: covered.json, inputPatch: inputPatch, by: actor, reason: reason, now: clock.now(), on: connection)
        }
        return resolution
    }

    static func resolutionData(_ id: Int64, by actor: String, reason: String?, inputPatch: JSONValue?) -> JSONValue {
        var data: JSONValue = ["dead_letter_id": .string(String(id)), "by": .string(actor)]
        if let reason { data["reason"] = .string(reason) }
        if let inputPatch { data["input_patch"] = inputPatch }
        return data
    }

    /// Locks the instance a dead letter belongs to: instance first, dead letter after, the order
    /// every transition locks in.
    private func lockWorkflow(ofDeadLetter id: Int64, now: Date, on connection: PostgresConnection) async throws -> LockedWorkflow {
        guard let deadLetter = try await store.deadLetter(id, on: connection) else {
            throw OrchestratorError(.deadLetterNotFound, "no dead letter \(id)")
        }
        return try await lockExistingWorkflow(deadLetter.workflowID, now: now, on: connection)
    }

    private func resolve(
        _ id: Int64, as status: DeadLetterRecord.Status, by actor: String, reason: String?, now: Date, on connection: PostgresConnection
    ) async throws -> DeadLetterRecord {
        if let resolved = try await store.resolveDeadLetter(id, as: status, by: actor, reason: reason, now: now, on: connection) { return resolved }
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

    /// Open dead letters grouped by fingerprint (one cause each), the largest group first.
    public func deadLetterGroups(_ filter: DeadLetterFilter = .init(), limit: Int = 100) async throws -> [DeadLetterGroup] {
        try await client.withConnection { try await store.deadLetterGroups(filter, limit: limit, on: $0) }
    }
}
