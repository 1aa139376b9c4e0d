import Foundation
import Logging
import PostgresNIO

extension TaskQueue {
    /// Why an activity's result cannot be stored, or `nil` when it can.
    static func unstorable(_ result: JSONValue) -> String? {
        if result.containsNUL { return "the result holds a NUL character, which PostgreSQL cannot store" }
        if result.nestingDepth > StoredValueLimits.contextDepth { return "the result nests more than \(StoredValueLimits.contextDepth) levels deep" }
        return nil
    }

    /// Ends an attempt in the caller's transaction: fenced on the lease, then retry, catch,
    /// dead-letter or move on. Returns `false` when the lease was lost (nothing was written).
    @discardableResult
    public func conclude(_ task: ClaimedTask, outcome: TaskOutcome, on connection: PostgresConnection) async throws -> Bool {
        try await conclude([FinishedAttempt(task: task, outcome: outcome)], on: connection) == [true]
    }

    /// Ends a batch of attempts in the caller's transaction with a handful of statements, however
    /// many: one locks their workflows (in id order), one fences every attempt on its lease and
    /// applies its verdict, one saves every workflow with its new tasks and events. In between,
    /// the state machine decides each transition in memory; only what reaches beyond the
    /// instance (a dead letter, a child, a signal, a map's progress) costs a statement of its own.
    /// Returns for each attempt whether its lease held. With `dispatch`, the next tasks these
    /// transitions enqueue may be leased to the completing worker at once.
    public func conclude(_ attempts: [FinishedAttempt], dispatch: EagerDispatch? = nil, on connection: PostgresConnection) async throws -> [Bool] {
        // A map item's completion needs no context (`MapProgress`): an instance only map items
        // report to is locked without it, and loads it if its transition turns out to need it.
        let ids = Set(attempts.map(\.task.workflowID))
        let withContext = Set(attempts.filter { $0.task.itemIndex == nil || $0.task.kind != .activity }.map(\.task.workflowID))
        var workflows = try await store.lockWorkflows(Array(ids), withContext: Array(withContext), now: clock.now(), on: connection)
        return try await conclude(attempts, in: &workflows, dispatch: dispatch, on: connection)
    }

    /// `conclude` for instances the caller has locked already.
    func conclude(
        _ attempts: [FinishedAttempt], in workflows: inout [String: LockedWorkflow], dispatch: EagerDispatch? = nil, on connection: PostgresConnection
    ) async throws -> [Bool] {
        // Decide every verdict first (pure), then fence and apply them all in one statement.
        var generator = SystemRandomNumberGenerator()
        var verdicts: [(task: ClaimedTask, verdict: AttemptVerdict)] = []
        var machines: [String: StateMachine] = [:]
        for attempt in attempts {
            guard let workflow = workflows[attempt.task.workflowID] else { continue }
            let machine: StateMachine
            if let known = machines[workflow.id] {
                machine = known
            } else {
                machine = try await self.machine(for: workflow, on: connection)
                machines[workflow.id] = machine
            }
            verdicts.append((attempt.task, Self.verdict(on: attempt, machine: machine, now: workflow.now, using: &generator)))
        }
        let now = workflows.values.map(\.now).max() ?? clock.now()
        let started = try await store.endAttempts(verdicts, now: now, on: connection)
        let concluded = started.count
        AfterCommit.run(on: connection) { EngineMetrics.attemptsConcluded(concluded, path: "locked") }

        var changed: [String] = []
        for (task, verdict) in verdicts {
            guard let startedAt = started[task.attemptID], var workflow = workflows[task.workflowID], let machine = machines[task.workflowID] else {
                fenced(task, on: connection)
                continue
            }
            if try await recordVerdict(task, verdict, startedAt: startedAt, in: &workflow, machine: machine, on: connection), !changed.contains(workflow.id) {
                changed.append(workflow.id)
            }
            workflows[workflow.id] = workflow
        }
        try await store.save(changed.compactMap { workflows[$0] }, dispatch: dispatch, on: connection)
        return attempts.map { started[$0.task.attemptID] != nil }
    }

    /// Writes what earlier attempts of this batch changed in the instance, before a statement that
    /// acts on its tasks in the database (cancels them, counts them): that statement must see
    /// them, as it would had each attempt been concluded alone.
    private func saveSoFar(_ workflow: inout LockedWorkflow, on connection: PostgresConnection) async throws {
        guard !workflow.newTasks.isEmpty || !workflow.newEvents.isEmpty else { return }
        try await store.save(workflow, on: connection)
        workflow.markSaved()
    }

    /// Records a fenced attempt's verdict in its locked instance and moves it on: retry, catch,
    /// dead-letter or the next state. Returns whether the instance changed (and must be saved).
    private func recordVerdict(
        _ task: ClaimedTask, _ verdict: AttemptVerdict, startedAt: Date, in workflow: inout LockedWorkflow, machine: StateMachine,
        on connection: PostgresConnection
    ) async throws -> Bool {
        let now = workflow.now
        let isCurrent = workflow.isActive && workflow.state == task.state && workflow.visit == task.visit

        switch verdict {
        case .completed(let result):
            switch task.kind {
            case .activity:
                break
            case .timer:
                guard isCurrent, workflow.status == .waiting else { return false }
                workflow.addEvent(.timerFired, state: task.state)
                try await transitions.apply(machine.afterTimer(in: task.state, context: workflow.context, now: now), to: &workflow, machine: machine, on: connection)
                return true
            case .childResult:
                // The parent may have left the wait meanwhile (cancelled, a timeout): then it is late news.
                guard isCurrent, workflow.status == .waiting else { return false }
                workflow.addEvent(.childEnded, state: task.state, data: result)
                try await transitions.apply(machine.childEnded(in: task.state, result: result, context: workflow.context, now: now), to: &workflow, machine: machine, on: connection)
                return true
            case .signal:
                guard workflow.isActive, let name = result["name"]?.stringValue else {
                    logger.info("signal for an ended workflow dropped", metadata: Self.metadata(task, [:]))
                    return false
                }
                try await saveSoFar(&workflow, on: connection)
                do {
                    _ = try await transitions.deliver(name, payload: result["payload"] ?? .emptyObject, idempotencyKey: task.idempotencyKey, to: &workflow, on: connection)
                } catch let error as OrchestratorError where error.code == .signalBufferFull || error.code == .unknownSignal {
                    logger.warning("signal dropped: \(error.message)", metadata: Self.metadata(task, [:]))
                    return false
                }
                return true
            }
            Self.recordAttempt(task, startedAt: startedAt, ended: .taskCompleted, ["result": result], in: &workflow)
            AfterCommit.run(on: connection) { EngineMetrics.attemptEnded(activity: task.activity, outcome: "completed") }
            if isCurrent {
                if task.itemIndex != nil {
                    try await advanceMap(task, completed: true, in: &workflow, machine: machine, on: connection)
                } else {
                    try await transitions.apply(machine.advance(from: task.state, result: result, context: workflow.context, now: now), to: &workflow, machine: machine, on: connection)
                }
            }

        case .retry(let error, let retryAt, let delay):
            Self.recordAttempt(task, startedAt: startedAt, ended: .taskFailed, [
                "error": Self.errorJSON(error), "retry_at": .string(ISO8601DateFormatter().string(from: retryAt)),
            ], in: &workflow)
            AfterCommit.run(on: connection) { EngineMetrics.attemptEnded(activity: task.activity, outcome: "retried") }
            logger.info("task failed, will retry", metadata: Self.metadata(task, [LogKey.errorCode: "\(error.code)", "retry_in": "\(delay)"]))

        case .exhausted(let error):
            Self.recordAttempt(task, startedAt: startedAt, ended: .taskFailed, ["error": Self.errorJSON(error)], in: &workflow)
            guard isCurrent else { break }
            try await store.loadContext(of: &workflow, on: connection)
            if let caught = machine.caught(in: task.state, code: error.code, message: error.message, context: workflow.context, now: now) {
                AfterCommit.run(on: connection) { EngineMetrics.attemptEnded(activity: task.activity, outcome: "caught") }
                if task.itemIndex != nil {
                    try await saveSoFar(&workflow, on: connection)
                    try await store.cancelTasks(workflowID: workflow.id, visit: task.visit, now: now, on: connection)
                }
                try await transitions.apply(caught, to: &workflow, machine: machine, on: connection)
            } else {
                let deadLetterID = try await store.insertDeadLetter(task: task, workflowType: workflow.type, errorCode: error.code, now: now, on: connection)
                workflow.status = .deadLettered
                AfterCommit.run(on: connection) { EngineMetrics.attemptEnded(activity: task.activity, outcome: "dead_lettered") }
                workflow.addEvent(.taskDeadLettered, state: task.state, attempt: task.attempt, data: Self.taskEventData(task, [
                    "dead_letter_id": .string(String(deadLetterID)), "error": Self.errorJSON(error),
                ]))
                logger.warning("task dead-lettered", metadata: Self.metadata(task, [LogKey.errorCode: "\(error.code)", LogKey.deadLetterID: "\(deadLetterID)"]))
                // A dead item frees its slot: the map's other items go on.
                if task.itemIndex != nil { try await advanceMap(task, completed: false, in: &workflow, machine: machine, on: connection) }
            }
        }
        return true
    }

    /// The verdict on a finished attempt under its state's retry policy (the workflow's where the
    /// state sets none): the one decision both conclusion paths take.
    static func verdict(on attempt: FinishedAttempt, machine: StateMachine, now: Date, using generator: inout some RandomNumberGenerator) -> AttemptVerdict {
        let policy = machine.definition.states[attempt.task.state]?.taskSpec?.retry ?? machine.definition.retry
        return .of(attempt.outcome, attempt: attempt.task.attempt, policy: policy, now: now, using: &generator)
    }

    /// Records an ended attempt in its instance's history: when it started, and how it ended.
    static func recordAttempt(
        _ task: ClaimedTask, startedAt: Date, ended kind: EventRecord.Kind, _ fields: [String: JSONValue], in workflow: inout LockedWorkflow
    ) {
        workflow.addEvent(.taskStarted, state: task.state, attempt: task.attempt, at: startedAt)
        workflow.addEvent(kind, state: task.state, attempt: task.attempt, data: taskEventData(task, fields))
    }

    private static func errorJSON(_ error: ActivityError) -> JSONValue {
        ["code": .string(error.code), "message": .string(error.message)]
    }

    /// A map item finished (completed or dead-lettered): when every item has a result, the list of
    /// results is the state's result; otherwise start the next items, keeping at most
    /// `max_concurrency` in flight (a dead item is not in flight). It costs the same whatever the
    /// map's size: the progress is on the instance, the next inputs wait resolved, and the results
    /// are read once, at the end.
    private func advanceMap(
        _ task: ClaimedTask, completed: Bool, in workflow: inout LockedWorkflow, machine: StateMachine, on connection: PostgresConnection
    ) async throws {
        guard case .map(let spec)? = machine.definition.states[task.state]?.kind else { return }
        guard var progress = workflow.mapProgress, progress.visit == task.visit else {
            return try await advanceMapEnteredBeforeItsProgressWasKept(task, spec: spec, in: &workflow, machine: machine, on: connection)
        }
        if completed { progress.completed += 1 } else { progress.dead += 1 }
        if progress.completed == progress.items {
            workflow.mapProgress = progress
            let results = try await store.mapResults(workflowID: workflow.id, visit: task.visit, on: connection)
            try await store.loadContext(of: &workflow, on: connection)
            let list = JSONValue.array((0..<progress.items).map { results[$0] ?? .null })
            try await transitions.apply(machine.advance(from: task.state, result: list, context: workflow.context, now: workflow.now), to: &workflow, machine: machine, on: connection)
            return
        }
        let room = min((spec.maxConcurrency ?? progress.items) - progress.inFlight, progress.items - progress.scheduled)
        if room > 0 {
            let next = try await store.takeMapItems(workflowID: workflow.id, visit: task.visit, first: progress.scheduled, count: room, on: connection)
            for (index, input) in next { transitions.schedule(spec.task, state: task.state, input: input, itemIndex: index, in: &workflow) }
            progress.scheduled += next.count
        }
        workflow.mapProgress = progress
    }

    /// `advanceMap` for a map entered before migration 0013 kept its progress: reads every item's
    /// task and the items from the context.
    private func advanceMapEnteredBeforeItsProgressWasKept(
        _ task: ClaimedTask, spec: StateDefinition.MapSpec, in workflow: inout LockedWorkflow, machine: StateMachine, on connection: PostgresConnection
    ) async throws {
        try await saveSoFar(&workflow, on: connection)
        try await store.loadContext(of: &workflow, on: connection)
        let items = spec.items.read(workflow.context)?.arrayValue ?? []
        let progress = try await store.mapProgress(workflowID: workflow.id, visit: task.visit, on: connection)
        if progress.results.count == items.count {
            let results = JSONValue.array((0..<items.count).map { progress.results[$0] ?? .null })
            try await transitions.apply(machine.advance(from: task.state, result: results, context: workflow.context, now: workflow.now), to: &workflow, machine: machine, on: connection)
            return
        }
        let inFlight = progress.scheduled - progress.results.count - progress.dead
        let room = (spec.maxConcurrency ?? items.count) - inFlight
        for index in progress.scheduled..<min(items.count, progress.scheduled + max(room, 0)) {
            let input = StateMachine.mapItemInput(spec: spec, context: workflow.context, item: items[index], index: index)
            transitions.schedule(spec.task, state: task.state, input: input, itemIndex: index, in: &workflow)
        }
    }

    private func fenced(_ task: ClaimedTask, on connection: PostgresConnection) {
        AfterCommit.run(on: connection) { EngineMetrics.attemptEnded(activity: task.activity, outcome: "lease_lost") }
        logger.info("lease lost, attempt discarded", metadata: Self.metadata(task, [:]))
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
