import Foundation

/// The pure transition function of a workflow: `(definition, state, outcome) -> transition`.
///
/// It performs no I/O, so every rule of the state machine is tested as a table. The engine applies
/// what it returns (events, context, tasks to enqueue) in one transaction.
public struct StateMachine: Sendable {
    public let definition: WorkflowDefinition

    public init(_ definition: WorkflowDefinition) {
        self.definition = definition
    }

    /// Where a transition comes to rest: something to wait for, or the end of the workflow.
    public enum Landing: Sendable, Hashable {
        case task(state: String, spec: StateDefinition.TaskSpec, input: JSONValue)
        case map(state: String, spec: StateDefinition.MapSpec, inputs: [JSONValue])
        /// Waits for the first of `signals`, until `deadline` if there is one.
        case wait(state: String, signals: [String], deadline: Date?)
        case sleep(state: String, until: Date)
        /// Start children (an `id` nil: the default); with `wait` (one child), wait for its end.
        case startWorkflow(state: String, type: String, children: [ChildStart], wait: Bool)
        /// Queue `name` for `workflowID`, then move on.
        case sendSignal(state: String, workflowID: String, name: String, payload: JSONValue)
        case completed(output: JSONValue)
        case failed(WorkflowFailure)

        /// The values this landing has the engine store: task inputs, a signal's payload, the output.
        var storedValues: [JSONValue] {
            switch self {
            case .task(_, _, let input): [input]
            case .map(_, _, let inputs): inputs
            case .sendSignal(_, _, _, let payload): [payload]
            case .completed(let output): [output]
            case .wait, .sleep, .startWorkflow, .failed: []
            }
        }

        /// True when landing here writes into the instance alone (`Transitions.applyInPlace`):
        /// a task, a sleep or the end, not a map, a wait, a child or a signal.
        var landsInPlace: Bool {
            switch self {
            case .task, .sleep, .completed, .failed: true
            case .map, .wait, .startWorkflow, .sendSignal: false
            }
        }
    }

    /// One child a `start_workflow` state starts: its input, and its id (`nil`: the default).
    public struct ChildStart: Sendable, Hashable {
        public var input: JSONValue
        public var id: String?
    }

    public struct Transition: Sendable, Hashable {
        /// States entered, in order (a `choice` or `pass` is entered and left at once).
        public var entered: [String]
        public var context: JSONValue
        public var landing: Landing
    }

    /// The error a workflow ends with.
    public struct WorkflowFailure: Sendable, Hashable, Codable {
        public var code: String
        public var message: String
        public init(code: String, message: String) {
            self.code = code
            self.message = message
        }
    }

    static let maxHops = 1000

    /// Enters `name` and follows immediate states (`choice`, `pass`, empty `map`) until one must wait.
    public func enter(_ name: String, context: JSONValue, now: Date) -> Transition {
        var context = context
        var entered: [String] = []
        var current = name
        while entered.count < Self.maxHops {
            entered.append(current)
            guard let state = definition.states[current] else {
                return Transition(entered: entered, context: context, landing: .failed(.init(code: "definition.unknown_state", message: "state '\(current)' is not defined in \(definition.type) version \(definition.version)")))
            }
            switch state.kind {
            case .task(let spec):
                let input = spec.input?.evaluate(in: context) ?? context["input"] ?? .emptyObject
                return Transition(entered: entered, context: context, landing: .task(state: current, spec: spec, input: input))
            case .map(let spec):
                guard let items = spec.items.read(context)?.arrayValue else {
                    return Transition(entered: entered, context: context, landing: .failed(.init(code: "map.items_not_a_list", message: "\(spec.items) in state '\(current)' is not a list")))
                }
                if items.isEmpty {
                    resultPath(of: current).write(.array([]), into: &context)
                    guard let next = state.next else { return completed(entered, context) }
                    current = next
                    continue
                }
                let inputs = items.enumerated().map { index, item in
                    Self.mapItemInput(spec: spec, context: context, item: item, index: index)
                }
                return Transition(entered: entered, context: context, landing: .map(state: current, spec: spec, inputs: inputs))
            case .choice(let rules, let fallback):
                guard let next = rules.first(where: { $0.matches(context) })?.next ?? fallback else {
                    return Transition(entered: entered, context: context, landing: .failed(.init(code: "choice.no_match", message: "no rule of choice state '\(current)' matched and it has no default")))
                }
                current = next
            case .pass(let template):
                if let template {
                    resultPath(of: current).write(template.evaluate(in: context), into: &context)
                }
                guard let next = state.next else { return completed(entered, context) }
                current = next
            case .waitFor(let signals, let timeout, _):
                guard let timeout else {
                    return Transition(entered: entered, context: context, landing: .wait(state: current, signals: signals, deadline: nil))
                }
                guard let deadline = Self.date(after: timeout, in: context, now: now) else {
                    return Transition(entered: entered, context: context, landing: .failed(.init(code: "wait_for.invalid_timestamp", message: "the 'until' of state '\(current)' is not an ISO-8601 timestamp")))
                }
                return Transition(entered: entered, context: context, landing: .wait(state: current, signals: signals, deadline: deadline))
            case .sleep(let delay):
                guard let until = Self.date(after: delay, in: context, now: now) else {
                    return Transition(entered: entered, context: context, landing: .failed(.init(code: "sleep.invalid_timestamp", message: "the 'until' of state '\(current)' is not an ISO-8601 timestamp")))
                }
                return Transition(entered: entered, context: context, landing: .sleep(state: current, until: until))
            case .startWorkflow(let spec):
                var scopes = [context]
                if let forEach = spec.forEach {
                    guard let items = forEach.read(context)?.arrayValue else {
                        return Transition(entered: entered, context: context, landing: .failed(.init(code: "start_workflow.items_not_a_list", message: "\(forEach) in state '\(current)' is not a list")))
                    }
                    scopes = items.enumerated().map { index, item in Self.itemScope(context, item: item, index: index) }
                }
                var children: [ChildStart] = []
                for scope in scopes {
                    var id: String?
                    if let template = spec.id {
                        guard let text = template.evaluate(in: scope).stringValue, !text.isEmpty else {
                            return Transition(entered: entered, context: context, landing: .failed(.init(code: "start_workflow.invalid_id", message: "the id of state '\(current)' is not a non-empty string")))
                        }
                        id = text
                    }
                    children.append(ChildStart(input: spec.input?.evaluate(in: scope) ?? .emptyObject, id: id))
                }
                return Transition(entered: entered, context: context, landing: .startWorkflow(state: current, type: spec.type, children: children, wait: spec.wait))
            case .sendSignal(let spec):
                guard let target = spec.workflow.evaluate(in: context).stringValue, !target.isEmpty else {
                    return Transition(entered: entered, context: context, landing: .failed(.init(code: "send_signal.invalid_workflow", message: "the workflow of state '\(current)' is not a workflow id")))
                }
                return Transition(entered: entered, context: context, landing: .sendSignal(
                    state: current, workflowID: target, name: spec.name, payload: spec.payload?.evaluate(in: context) ?? .emptyObject))
            case .succeed(let output):
                return Transition(entered: entered, context: context, landing: .completed(output: output?.evaluate(in: context) ?? context))
            case .fail(let code, let message):
                return Transition(entered: entered, context: context, landing: .failed(.init(code: code, message: message ?? "workflow failed in state '\(current)'")))
            }
        }
        return Transition(entered: entered, context: context, landing: .failed(.init(code: "workflow.loop", message: "more than \(Self.maxHops) states entered without waiting")))
    }

    /// Starts a new instance with `input`; `startedBy` (an API key's name) is kept at `$.started_by`.
    public func start(input: JSONValue, startedBy: String? = nil, now: Date) -> Transition {
        enter(definition.start, context: Self.initialContext(input: input, startedBy: startedBy), now: now)
    }

    static func initialContext(input: JSONValue, startedBy: String?) -> JSONValue {
        var context: JSONValue = ["input": input]
        if let startedBy { context["started_by"] = .string(startedBy) }
        return context
    }

    /// A `wait_for` received `signal`: its result is the payload when it waits for one signal,
    /// `{signal, payload}` when it waits for several.
    public func received(_ signal: String, payload: JSONValue, in name: String, context: JSONValue, now: Date) -> Transition {
        var result = payload
        if case .waitFor(let signals, _, _)? = definition.states[name]?.kind, signals.count > 1 {
            result = ["signal": .string(signal), "payload": payload]
        }
        return advance(from: name, result: result, context: context, now: now)
    }

    /// A state's task, map, signal wait or timer produced `result`: store it and move on.
    public func advance(from name: String, result: JSONValue, context: JSONValue, now: Date) -> Transition {
        var context = context
        resultPath(of: name).write(result, into: &context)
        guard let next = definition.states[name]?.next else { return completed([], context) }
        return enter(next, context: context, now: now)
    }

    /// The transition a `catch` rule of `name` takes for `code`, or `nil` when no rule matches.
    public func caught(in name: String, code: String, message: String, context: JSONValue, now: Date) -> Transition? {
        guard let rule = definition.states[name]?.catch.first(where: { $0.errors.matches(code) }) else { return nil }
        var context = context
        let path = rule.result ?? JSONPath(segments: [.key("\(name)_error")])
        path.write(["code": .string(code), "message": .string(message)], into: &context)
        return enter(rule.next, context: context, now: now)
    }

    /// An error of state `name`: its `catch` rule's transition, or the workflow fails with it.
    public func failed(in name: String, code: String, message: String, context: JSONValue, now: Date) -> Transition {
        caught(in: name, code: code, message: message, context: context, now: now)
            ?? Transition(entered: [], context: context, landing: .failed(.init(code: code, message: message)))
    }

    /// The child a `start_workflow` state waits for ended (`result` is `{workflow_id, status,
    /// output, error}`): its output is the state's result; a failed or cancelled child is an error
    /// of the state, with the child's code (`workflow.cancelled` for a cancelled one), for `catch`.
    public func childEnded(in name: String, result: JSONValue, context: JSONValue, now: Date) -> Transition {
        if result["status"]?.stringValue == WorkflowStatus.completed.rawValue {
            return advance(from: name, result: result["output"] ?? .null, context: context, now: now)
        }
        let child = result["workflow_id"]?.stringValue ?? "?"
        let code = result["status"]?.stringValue == WorkflowStatus.cancelled.rawValue ? "workflow.cancelled" : result["error"]?["code"]?.stringValue ?? "workflow.failed"
        let message = "child workflow \(child) ended \(result["status"]?.stringValue ?? "?"): \(result["error"]?["message"]?.stringValue ?? "no message")"
        return failed(in: name, code: code, message: message, context: context, now: now)
    }

    /// A `wait_for` timed out: take `on_timeout`, else a `catch` for `timeout`, else fail with `timeout`.
    public func waitTimedOut(in name: String, context: JSONValue, now: Date) -> Transition {
        if case .waitFor(let signals, _, let onTimeout)? = definition.states[name]?.kind {
            if let onTimeout { return enter(onTimeout, context: context, now: now) }
            let message = "no \(signals.map { "'\($0)'" }.joined(separator: " or ")) signal arrived in time in state '\(name)'"
            if let transition = caught(in: name, code: "timeout", message: message, context: context, now: now) {
                return transition
            }
            return Transition(entered: [], context: context, landing: .failed(.init(code: "timeout", message: message)))
        }
        return Transition(entered: [], context: context, landing: .failed(.init(code: "timeout", message: "timer fired in state '\(name)'")))
    }

    /// A durable timer of `name` fired: a `sleep` moves on, a `wait_for` timed out.
    public func afterTimer(in name: String, context: JSONValue, now: Date) -> Transition {
        if case .sleep? = definition.states[name]?.kind {
            guard let next = definition.states[name]?.next else { return completed([], context) }
            return enter(next, context: context, now: now)
        }
        return waitTimedOut(in: name, context: context, now: now)
    }

    public func resultPath(of name: String) -> JSONPath {
        definition.states[name]?.result ?? JSONPath(segments: [.key(name)])
    }

    private func completed(_ entered: [String], _ context: JSONValue) -> Transition {
        Transition(entered: entered, context: context, landing: .completed(output: context))
    }

    static func mapItemInput(spec: StateDefinition.MapSpec, context: JSONValue, item: JSONValue, index: Int) -> JSONValue {
        guard let template = spec.task.input else { return item }
        return template.evaluate(in: itemScope(context, item: item, index: index))
    }

    /// The context as an item's template sees it: plus `$.item` and `$.index`.
    static func itemScope(_ context: JSONValue, item: JSONValue, index: Int) -> JSONValue {
        var scope = context
        scope["item"] = item
        scope["index"] = .number(Double(index))
        return scope
    }

    /// The end of `delay` entered at `now`; `nil` when its timestamp is missing or malformed.
    static func date(after delay: StateDefinition.Delay, in context: JSONValue, now: Date) -> Date? {
        switch delay {
        case .duration(let duration): now.addingTimeInterval(duration.seconds)
        case .until(let path): path.read(context)?.stringValue.flatMap(parseTimestamp)
        }
    }

    static func parseTimestamp(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}
