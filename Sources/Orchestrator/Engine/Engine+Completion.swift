import Foundation
import Logging
import PostgresNIO

/// What an attempt of a task produced.
public enum TaskOutcome: Sendable, Hashable {
    case completed(JSONValue)
    case failed(ActivityError)
}

extension Engine {
    /// Why an activity's result cannot be stored, or `nil` when it can.
    static func unstorable(_ result: JSONValue) -> String? {
        if result.containsNUL { return "the result holds a NUL character, which PostgreSQL cannot store" }
        if result.nestingDepth > StoredValueLimits.contextDepth { return "the result nests more than \(StoredValueLimits.contextDepth) levels deep" }
        return nil
    }

    /// Ends an attempt in the caller's transaction: fenced on the lease, then retry, catch,
    /// dead-letter or move on. Returns `false` when the lease was lost (nothing was written). With
    /// `dispatch`, the next tasks it enqueues may be leased to the completing worker at once.
    @discardableResult
    public func conclude(_ task: ClaimedTask, outcome: TaskOutcome, dispatch: EagerDispatch? = nil, on connection: PostgresConnection) async throws -> Bool {
        guard let workflow = try await store.lockWorkflow(task.workflowID, now: clock.now(), on: connection) else { return false }
        return try await conclude(task, outcome: outcome, in: workflow, dispatch: dispatch, on: connection)
    }

    /// `finish` for an instance the caller has locked already.
    func conclude(
        _ task: ClaimedTask, outcome: TaskOutcome, in workflow: LockedWorkflow, dispatch: EagerDispatch? = nil, on connection: PostgresConnection
    ) async throws -> Bool {
        var workflow = workflow
        var outcome = outcome
        if case .completed(let result) = outcome, let problem = Self.unstorable(result) {
            outcome = .failed(.nonRetryable("activity.invalid_output", problem))
        }
        let now = workflow.now
        let definition = try await catalog.definition(type: workflow.type, version: workflow.version, store: store, on: connection)
        let machine = StateMachine(definition)
        let isCurrent = workflow.isActive && workflow.state == task.state && workflow.visit == task.visit

        switch outcome {
        case .completed(let result):
            guard let startedAt = try await store.finishAttempt(task, status: .completed, result: result, error: nil, retryAt: nil, now: now, on: connection) else {
                return fenced(task)
            }
            switch task.kind {
            case .activity:
                break
            case .timer:
                guard isCurrent, workflow.status == .waiting else { return true }
                workflow.addEvent(.timerFired, state: task.state)
                try await apply(machine.afterTimer(in: task.state, context: workflow.context, now: now), to: &workflow, machine: machine, on: connection)
                try await store.save(workflow, dispatch: dispatch, on: connection)
                return true
            case .childResult:
                // The parent may have left the wait meanwhile (cancelled, a timeout): then it is late news.
                guard isCurrent, workflow.status == .waiting else { return true }
                workflow.addEvent(.childEnded, state: task.state, data: result)
                try await apply(machine.childEnded(in: task.state, result: result, context: workflow.context, now: now), to: &workflow, machine: machine, on: connection)
                try await store.save(workflow, dispatch: dispatch, on: connection)
                return true
            case .signal:
                guard workflow.isActive, let name = result["name"]?.stringValue else {
                    logger.info("signal for an ended workflow dropped", metadata: Self.metadata(task, [:]))
                    return true
                }
                do {
                    _ = try await deliver(name, payload: result["payload"] ?? .emptyObject, idempotencyKey: task.idempotencyKey, to: &workflow, on: connection)
                } catch let error as OrchestratorError where error.code == .signalBufferFull || error.code == .unknownSignal {
                    logger.warning("signal dropped: \(error.message)", metadata: Self.metadata(task, [:]))
                    return true
                }
                try await store.save(workflow, dispatch: dispatch, on: connection)
                return true
            }
            workflow.addEvent(.taskStarted, state: task.state, attempt: task.attempt, at: startedAt)
            workflow.addEvent(.taskCompleted, state: task.state, attempt: task.attempt, data: Self.taskEventData(task, ["result": result]))
            EngineMetrics.attemptEnded(activity: task.activity, outcome: "completed")
            if isCurrent {
                if task.itemIndex != nil {
                    try await advanceMap(task, in: &workflow, machine: machine, on: connection)
                } else {
                    try await apply(machine.advance(from: task.state, result: result, context: workflow.context, now: now), to: &workflow, machine: machine, on: connection)
                }
            }

        case .failed(let error):
            let policy = definition.states[task.state]?.taskSpec?.retry ?? definition.retry
            let attemptError = AttemptError(attempt: task.attempt, code: error.code, message: error.message, at: now)
            let errorJSON: JSONValue = ["code": .string(error.code), "message": .string(error.message)]
            if policy.allowsRetry(code: error.code, retryable: error.retryable, attempt: task.attempt) {
                var generator = SystemRandomNumberGenerator()
                let delay = error.retryAfter ?? policy.delay(afterAttempt: task.attempt, using: &generator)
                let retryAt = now.addingTimeInterval(delay.seconds)
                guard let startedAt = try await store.finishAttempt(task, status: .failed, result: nil, error: attemptError, retryAt: retryAt, now: now, on: connection) else {
                    return fenced(task)
                }
                workflow.addEvent(.taskStarted, state: task.state, attempt: task.attempt, at: startedAt)
                workflow.addEvent(.taskFailed, state: task.state, attempt: task.attempt, data: Self.taskEventData(task, [
                    "error": errorJSON, "retry_at": .string(ISO8601DateFormatter().string(from: retryAt)),
                ]))
                try await store.save(workflow, dispatch: dispatch, on: connection)
                EngineMetrics.attemptEnded(activity: task.activity, outcome: "retried")
                logger.info("task failed, will retry", metadata: Self.metadata(task, [LogKey.errorCode: "\(error.code)", "retry_in": "\(delay)"]))
                return true
            }
            guard let startedAt = try await store.finishAttempt(task, status: .dead, result: nil, error: attemptError, retryAt: nil, now: now, on: connection) else {
                return fenced(task)
            }
            workflow.addEvent(.taskStarted, state: task.state, attempt: task.attempt, at: startedAt)
            workflow.addEvent(.taskFailed, state: task.state, attempt: task.attempt, data: Self.taskEventData(task, ["error": errorJSON]))
            if isCurrent {
                if let caught = machine.caught(in: task.state, code: error.code, message: error.message, context: workflow.context, now: now) {
                    EngineMetrics.attemptEnded(activity: task.activity, outcome: "caught")
                    if task.itemIndex != nil {
                        try await store.cancelTasks(workflowID: workflow.id, visit: task.visit, now: now, on: connection)
                    }
                    try await apply(caught, to: &workflow, machine: machine, on: connection)
                } else {
                    let deadLetterID = try await store.insertDeadLetter(task: task, workflowType: workflow.type, errorCode: error.code, now: now, on: connection)
                    workflow.status = .deadLettered
                    EngineMetrics.attemptEnded(activity: task.activity, outcome: "dead_lettered")
                    workflow.addEvent(.taskDeadLettered, state: task.state, attempt: task.attempt, data: Self.taskEventData(task, [
                        "dead_letter_id": .string(String(deadLetterID)), "error": errorJSON,
                    ]))
                    logger.warning("task dead-lettered", metadata: Self.metadata(task, [LogKey.errorCode: "\(error.code)", LogKey.deadLetterID: "\(deadLetterID)"]))
                    // A dead item frees its slot: the map's other items go on.
                    if task.itemIndex != nil { try await advanceMap(task, in: &workflow, machine: machine, on: connection) }
                }
            }
        }
        try await store.save(workflow, dispatch: dispatch, on: connection)
        return true
    }

    /// A map item finished (completed or dead-lettered): when every item has a result, the list of
    /// results is the state's result; otherwise start the next items, keeping at most
    /// `max_concurrency` in flight (a dead item is not in flight).
    private func advanceMap(_ task: ClaimedTask, in workflow: inout LockedWorkflow, machine: StateMachine, on connection: PostgresConnection) async throws {
        guard case .map(let spec)? = machine.definition.states[task.state]?.kind else { return }
        let items = spec.items.read(workflow.context)?.arrayValue ?? []
        let progress = try await store.mapProgress(workflowID: workflow.id, visit: task.visit, on: connection)
        if progress.results.count == items.count {
            let results = JSONValue.array((0..<items.count).map { progress.results[$0] ?? .null })
            try await apply(machine.advance(from: task.state, result: results, context: workflow.context, now: workflow.now), to: &workflow, machine: machine, on: connection)
            return
        }
        let inFlight = progress.scheduled - progress.results.count - progress.dead
        let room = (spec.maxConcurrency ?? items.count) - inFlight
        for index in progress.scheduled..<min(items.count, progress.scheduled + max(room, 0)) {
            let input = StateMachine.mapItemInput(spec: spec, context: workflow.context, item: items[index], index: index)
            schedule(spec.task, state: task.state, input: input, itemIndex: index, in: &workflow)
        }
    }

    private func fenced(_ task: ClaimedTask) -> Bool {
        EngineMetrics.attemptEnded(activity: task.activity, outcome: "lease_lost")
        logger.info("lease lost, attempt discarded", metadata: Self.metadata(task, [:]))
        return false
    }

    static func taskEventData(_ task: ClaimedTask, _ fields: [String: JSONValue]) -> JSONValue {
        var fields = fields
        fields["task_id"] = .string(String(task.id))
        fields["activity"] = .string(task.activity)
        if let itemIndex = task.itemIndex { fields["item_index"] = .number(Double(itemIndex)) }
        return .object(fields)
    }

    static func metadata(_ task: ClaimedTask, _ extra: Logger.Metadata) -> Logger.Metadata {
        var metadata = extra
        metadata[LogKey.taskID] = "\(task.id)"
        metadata[LogKey.workflowID] = "\(task.workflowID)"
        metadata[LogKey.attempt] = "\(task.attempt)"
        metadata[LogKey.activity] = "\(task.activity)"
        if let correlationID = task.correlationID { metadata[LogKey.correlationID] = "\(correlationID)" }
        return metadata
    }
}
