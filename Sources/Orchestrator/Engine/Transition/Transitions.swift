import Foundation
import PostgresNIO

/// Writes what the `StateMachine` decided into a locked instance: the states entered, the tasks
/// and timers their landing state needs, children started, signals sent, and the status.
struct Transitions: EnginePart {
    let core: EngineCore

    /// Applies a transition to a locked instance: records the states entered, enqueues what the
    /// landing state needs, and settles the status. A `wait_for` whose signal is already buffered
    /// consumes it and moves on at once.
    func apply(_ transition: StateMachine.Transition, to workflow: inout LockedWorkflow, machine: StateMachine, on connection: PostgresConnection) async throws {
        if workflow.status == .deadLettered {
            // Leaving the state its dead letters belong to (a sibling's error was caught): they
            // can no longer be retried, so they are closed, on the record.
            for id in try await store.discardDeadLetters(workflowID: workflow.id, by: Self.engineActor, now: workflow.now, on: connection) {
                workflow.addEvent(.deadLetterDiscarded, state: workflow.state, data: [
                    "dead_letter_id": .string(String(id)), "by": .string(Self.engineActor), "reason": "the workflow left the state",
                ])
            }
        }
        var transition = limitHistory(transition, of: workflow)
        while true {
            transition = enter(transition, in: &workflow)
            if land(transition.landing, in: &workflow) { return }
            switch transition.landing {
            case .task, .sleep, .completed, .failed:
                return  // landed in place above
            case .map(let state, let spec, let inputs):
                guard inputs.count <= configuration.maxMapItems else {
                    let error = tooManyItems(inputs.count, state: state)
                    transition = machine.failed(in: state, code: error.code.rawValue, message: error.message, context: workflow.context, now: workflow.now)
                    continue
                }
                workflow.status = .running
                // The first items run now; the others wait, resolved, for a slot (`MapProgress`).
                let first = inputs.prefix(spec.maxConcurrency ?? inputs.count)
                for (index, input) in first.enumerated() {
                    schedule(spec.task, state: state, input: input, itemIndex: index, in: &workflow)
                }
                workflow.mapProgress = MapProgress(visit: workflow.visit, items: inputs.count, scheduled: first.count)
                if first.count < inputs.count {
                    try await store.insertMapItems(
                        workflowID: workflow.id, visit: workflow.visit, inputs: Array(inputs.dropFirst(first.count)), firstIndex: first.count, on: connection)
                }
            case .wait(let state, let signals, let deadline):
                if let (signal, payload) = try await store.consumeSignal(workflowID: workflow.id, names: signals, now: workflow.now, on: connection) {
                    transition = machine.received(signal, payload: payload, in: state, context: workflow.context, now: workflow.now)
                    continue
                }
                workflow.status = .waiting
                workflow.waitingFor = signals
                if let deadline {
                    scheduleTimer(state: state, at: deadline, in: &workflow)
                }
            case .startWorkflow(let state, let type, let children, let wait):
                let parent = wait ? ParentLink(workflowID: workflow.id, state: state, visit: workflow.visit) : nil
                let namedByInput = catalog.current(type)?.instanceID != nil
                let perItem = machine.definition.states[state]?.startSpec?.forEach != nil
                var childIDs: [String] = []
                do {
                    if children.count > configuration.maxMapItems { throw tooManyItems(children.count, state: state) }
                    for (index, child) in children.enumerated() {
                        let defaultID = "\(workflow.id):\(state):\(workflow.visit)" + (perItem ? ":\(index)" : "")
                        childIDs.append(try await lifecycle.startChild(
                            StartRequest(type: type, input: child.input, id: child.id ?? (namedByInput ? nil : defaultID),
                                         correlationID: workflow.correlationID, startedBy: workflow.context["started_by"]?.stringValue ?? "workflow:\(workflow.id)"),
                            parent: parent, on: connection))
                    }
                } catch let error as OrchestratorError {
                    transition = machine.failed(in: state, code: error.code.rawValue, message: error.message, context: workflow.context, now: workflow.now)
                    continue
                }
                for childID in childIDs {
                    workflow.addEvent(.childStarted, state: state, data: ["workflow_id": .string(childID), "type": .string(type), "wait": .bool(wait)])
                }
                guard wait else {
                    let result: JSONValue = perItem
                        ? ["workflow_ids": .array(childIDs.map(JSONValue.string))] : ["workflow_id": .string(childIDs.first ?? "")]
                    transition = machine.advance(from: state, result: result, context: workflow.context, now: workflow.now)
                    continue
                }
                workflow.status = .waiting
            case .sendSignal(let state, let target, let name, let payload):
                let delivered = try await store.enqueueDelivery(
                    to: target, kind: .signal, state: name, visit: 0, input: ["name": .string(name), "payload": payload, "from": .string(workflow.id)],
                    idempotencyKey: "\(workflow.id)/\(state)/\(workflow.visit)/signal", correlationID: workflow.correlationID, now: workflow.now, on: connection)
                guard delivered else {
                    let message = "state '\(state)' cannot signal '\(target)': no such workflow"
                    transition = machine.failed(in: state, code: OrchestratorError.Code.workflowNotFound.rawValue, message: message, context: workflow.context, now: workflow.now)
                    continue
                }
                workflow.addEvent(.signalSent, state: state, data: ["workflow_id": .string(target), "name": .string(name)])
                transition = machine.advance(from: state, result: ["workflow_id": .string(target), "signal": .string(name)], context: workflow.context, now: workflow.now)
                continue
            }
            return
        }
    }

    /// `apply` for a transition that writes into the instance alone (`landsInPlace`): no other
    /// row is read or written, so it needs no database. `false` (the instance untouched) for any
    /// other transition.
    func applyInPlace(_ transition: StateMachine.Transition, to workflow: inout LockedWorkflow) -> Bool {
        guard workflow.status != .deadLettered, transition.landing.landsInPlace else { return false }
        return land(enter(limitHistory(transition, of: workflow), in: &workflow).landing, in: &workflow)
    }

    /// The transition, or a failure when the instance's history is full (no catch applies: a
    /// catch would only record more).
    private func limitHistory(_ transition: StateMachine.Transition, of workflow: LockedWorkflow) -> StateMachine.Transition {
        guard workflow.eventSeq >= configuration.maxEventsPerWorkflow else { return transition }
        return .init(entered: [], context: workflow.context, landing: .failed(.init(
            code: OrchestratorError.Code.historyFull.rawValue,
            message: "the workflow recorded \(workflow.eventSeq) events, the most one workflow may (ORCHESTRATOR_MAX_EVENTS_PER_WORKFLOW); it fails instead of growing its history further")))
    }

    /// Records the states a transition enters and its context; returns it, or a failure when a
    /// value it would store nests too deep to be read back (the workflow keeps the context it had).
    private func enter(_ transition: StateMachine.Transition, in workflow: inout LockedWorkflow) -> StateMachine.Transition {
        var transition = transition
        let deepest = ([transition.context] + transition.landing.storedValues).lazy.map(\.nestingDepth).max() ?? 0
        if deepest > StoredValueLimits.contextDepth {
            transition = .init(entered: [], context: workflow.context, landing: .failed(.init(
                code: OrchestratorError.Code.contextTooDeep.rawValue,
                message: "a result or a value built from it would nest more than \(StoredValueLimits.contextDepth) levels deep")))
        }
        workflow.context = transition.context
        for name in transition.entered {
            workflow.visit += 1
            workflow.state = name
            workflow.addEvent(.stateEntered, state: name)
        }
        workflow.waitingFor = []
        return transition
    }

    /// Lands the instance where the landing needs nothing but the instance: a task, a sleep, its
    /// end. `false` for the landings `apply` resolves against the database.
    private func land(_ landing: StateMachine.Landing, in workflow: inout LockedWorkflow) -> Bool {
        switch landing {
        case .task(let state, let spec, let input):
            workflow.status = .running
            schedule(spec, state: state, input: input, itemIndex: nil, in: &workflow)
        case .sleep(let state, let until):
            workflow.status = .waiting
            scheduleTimer(state: state, at: until, in: &workflow)
        case .completed(let output):
            workflow.output = output
            end(&workflow, as: .completed, event: .workflowCompleted, data: ["output": output])
        case .failed(let failure):
            workflow.error = failure
            end(&workflow, as: .failed, event: .workflowFailed, data: ["error": ["code": .string(failure.code), "message": .string(failure.message)]])
        case .map, .wait, .startWorkflow, .sendSignal:
            return false
        }
        return true
    }

    /// `resolved_by` of what the engine itself resolves.
    static let engineActor = "engine"

    /// Ends the instance; one whose cancellation ran a compensation path ends `cancelled` either way.
    private func end(_ workflow: inout LockedWorkflow, as status: WorkflowStatus, event: EventRecord.Kind, data: JSONValue) {
        if workflow.cancelRequested {
            workflow.status = .cancelled
            workflow.addEvent(.workflowCancelled, state: workflow.state, data: data)
        } else {
            workflow.status = status
            workflow.addEvent(event, state: workflow.state, data: data)
        }
    }

    func schedule(_ spec: StateDefinition.TaskSpec, state: String, input: JSONValue, itemIndex: Int?, in workflow: inout LockedWorkflow) {
        var key = "\(workflow.id)/\(state)/\(workflow.visit)"
        if let itemIndex { key += "/\(itemIndex)" }
        workflow.enqueue(NewTask(
            state: state, visit: workflow.visit, kind: .activity, activity: spec.activity, itemIndex: itemIndex, input: input,
            maxAttempts: spec.retry.maxAttempts, runAt: workflow.now, timeoutMilliseconds: spec.timeout.milliseconds,
            idempotencyKey: key))
        var data: JSONValue = ["activity": .string(spec.activity)]
        if let itemIndex { data["item_index"] = .number(Double(itemIndex)) }
        workflow.addEvent(.taskScheduled, state: state, data: data)
    }

    private func scheduleTimer(state: String, at date: Date, in workflow: inout LockedWorkflow) {
        workflow.enqueue(NewTask(
            state: state, visit: workflow.visit, kind: .timer, activity: "timer", itemIndex: nil, input: .null, maxAttempts: 1000,
            runAt: date, timeoutMilliseconds: 10_000, idempotencyKey: "\(workflow.id)/\(state)/\(workflow.visit)/timer"))
    }
}
