import Foundation
import Orchestrator
import Yams

/// Turns a YAML tree into a `WorkflowDefinition`, recording every shape error it meets.
struct DefinitionParser {
    var reader: NodeReader
    let knownActivities: Set<String>

    static let topLevelFields: Set<String> = ["type", "description", "start", "retry", "timeout", "states", "schedule", "late_after", "on_cancel", "on_discard", "instance_id", "start_roles", "signal_roles", "retention"]
    static let stateFields: Set<String> = [
        "description", "task", "input", "timeout", "retry", "next", "catch", "result", "choice", "default", "wait_for",
        "on_timeout", "until", "sleep", "map", "pass", "succeed", "output", "fail", "start_workflow", "send_signal",
    ]
    /// The API roles allowed to start and signal workflows at all.
    static let startingRoles: Set<String> = ["client", "ops"]
    static let kindFields = ["task", "choice", "wait_for", "sleep", "map", "pass", "succeed", "fail", "start_workflow", "send_signal"]
    static let retryFields: Set<String> = ["max_attempts", "initial_interval", "backoff_coefficient", "max_interval", "jitter", "non_retryable"]

    mutating func parse(_ root: Node, fileType: String) -> WorkflowDefinition? {
        guard let fields = reader.mapping(root, state: nil, field: nil, allowed: Self.topLevelFields) else { return nil }
        let type = reader.string(fields["type"], state: nil, field: "type")
        if fields["type"] == nil { reader.fail(root, state: nil, field: "type", "is required") }
        if let type, type != fileType {
            reader.fail(fields["type"], state: nil, field: "type", "type '\(type)' must match the file name (\(fileType).yaml)")
        }
        if let type, type.range(of: "^[a-z][a-z0-9_.-]*$", options: .regularExpression) == nil {
            reader.fail(fields["type"], state: nil, field: "type", "must be lower-case letters, digits, '_', '-' or '.'")
        }
        let start = reader.string(fields["start"], state: nil, field: "start")
        if fields["start"] == nil { reader.fail(root, state: nil, field: "start", "is required") }
        let retry = fields["retry"].map { parseRetry($0, base: .default, state: nil) } ?? .default
        let defaultTimeout = reader.duration(fields["timeout"], state: nil, field: "timeout") ?? .seconds(30)

        var states: [String: StateDefinition] = [:]
        if let statesNode = fields["states"] {
            if let mapping = statesNode.mapping, !mapping.isEmpty {
                for (key, value) in mapping {
                    guard let name = key.string else { continue }
                    if let state = parseState(value, name: name, retry: retry, defaultTimeout: defaultTimeout) {
                        states[name] = state
                    }
                }
            } else {
                reader.fail(statesNode, state: nil, field: "states", "must be a non-empty mapping of state names to states")
            }
        } else {
            reader.fail(root, state: nil, field: "states", "is required")
        }

        var schedule: WorkflowDefinition.Schedule?
        if let node = fields["schedule"], let scheduleFields = reader.mapping(node, state: nil, field: "schedule", allowed: ["cron", "input"]) {
            if let cron = reader.string(scheduleFields["cron"], state: nil, field: "schedule.cron") {
                do {
                    _ = try CronExpression(cron)
                    let input = scheduleFields["input"].map(reader.json) ?? .emptyObject
                    if input.objectValue == nil { reader.fail(scheduleFields["input"], state: nil, field: "schedule.input", "must be a mapping") }
                    schedule = .init(cron: cron, input: input)
                } catch {
                    reader.fail(scheduleFields["cron"], state: nil, field: "schedule.cron", "bad cron: \(error.message)")
                }
            } else {
                reader.fail(node, state: nil, field: "schedule.cron", "is required")
            }
        }
        let lateAfter = reader.duration(fields["late_after"], state: nil, field: "late_after")
        let retention = reader.duration(fields["retention"], state: nil, field: "retention")
        let onCancel = reader.string(fields["on_cancel"], state: nil, field: "on_cancel")
        let onDiscard = reader.string(fields["on_discard"], state: nil, field: "on_discard")
        let instanceID = reader.path(fields["instance_id"], state: nil, field: "instance_id")
        if let instanceID, instanceID.segments.first != .key("input") {
            reader.fail(fields["instance_id"], state: nil, field: "instance_id", "must be a path into the input, such as $.input.order_id")
        }
        let startRoles = reader.stringList(fields["start_roles"], state: nil, field: "start_roles")
        for role in startRoles ?? [] where !Self.startingRoles.contains(role) {
            reader.fail(fields["start_roles"], state: nil, field: "start_roles", "'\(role)' is not a role that starts workflows (\(Self.startingRoles.sorted().joined(separator: ", ")))")
        }
        var signalRoles: [String: [String]]?
        if let node = fields["signal_roles"] {
            if let mapping = node.mapping {
                signalRoles = [:]
                for (key, value) in mapping {
                    guard let signal = key.string, let roles = reader.stringList(value, state: nil, field: "signal_roles.\(key.string ?? "?")") else { continue }
                    for role in roles where !Self.startingRoles.contains(role) {
                        reader.fail(value, state: nil, field: "signal_roles.\(signal)", "'\(role)' is not a role that signals workflows (\(Self.startingRoles.sorted().joined(separator: ", ")))")
                    }
                    signalRoles?[signal] = roles
                }
            } else {
                reader.fail(node, state: nil, field: "signal_roles", "must map signal names to lists of roles")
            }
        }
        guard let type, let start else { return nil }
        return WorkflowDefinition(
            type: type, start: start, states: states, retry: retry, schedule: schedule, lateAfter: lateAfter,
            onCancel: onCancel, onDiscard: onDiscard, instanceID: instanceID, startRoles: startRoles,
            signalRoles: signalRoles, retention: retention)
    }

    mutating func parseRetry(_ node: Node, base: RetryPolicy, state: String?) -> RetryPolicy {
        var policy = base
        guard let fields = reader.mapping(node, state: state, field: "retry", allowed: Self.retryFields) else { return policy }
        if let value = reader.int(fields["max_attempts"], state: state, field: "retry.max_attempts", minimum: 1) { policy.maxAttempts = value }
        if let value = reader.duration(fields["initial_interval"], state: state, field: "retry.initial_interval") { policy.initialInterval = value }
        if let value = reader.double(fields["backoff_coefficient"], state: state, field: "retry.backoff_coefficient", minimum: 1) { policy.backoffCoefficient = value }
        if let value = reader.duration(fields["max_interval"], state: state, field: "retry.max_interval") { policy.maxInterval = value }
        if let node = fields["jitter"], let text = reader.string(node, state: state, field: "retry.jitter") {
            if let jitter = RetryPolicy.Jitter(rawValue: text) {
                policy.jitter = jitter
            } else {
                reader.fail(node, state: state, field: "retry.jitter", "must be none, full or equal")
            }
        }
        if let codes = reader.stringList(fields["non_retryable"], state: state, field: "retry.non_retryable") {
            policy.nonRetryable = codes.map(DottedPattern.init)
        }
        return policy
    }

    mutating func parseState(_ node: Node, name: String, retry: RetryPolicy, defaultTimeout: Duration) -> StateDefinition? {
        guard let fields = reader.mapping(node, state: name, field: nil, allowed: Self.stateFields) else { return nil }
        let kinds = Self.kindFields.filter { fields[$0] != nil }
        guard kinds.count == 1, let kind = kinds.first else {
            let message = kinds.isEmpty
                ? "has no kind: give exactly one of \(Self.kindFields.joined(separator: ", "))"
                : "has several kinds (\(kinds.joined(separator: ", "))): give exactly one"
            reader.fail(node, state: name, field: nil, message)
            return nil
        }
        let next = reader.string(fields["next"], state: name, field: "next")
        let result = reader.path(fields["result"], state: name, field: "result")
        let catchRules = fields["catch"].map { parseCatch($0, state: name) } ?? []
        let stateRetry = fields["retry"].map { parseRetry($0, base: retry, state: name) } ?? retry
        let timeout = reader.duration(fields["timeout"], state: name, field: "timeout")

        func allowOnly(_ allowed: Set<String>) {
            for key in fields.keys where !allowed.contains(key) && key != "description" {
                reader.fail(fields[key], state: name, field: key, "is not allowed in a \(kind) state")
            }
        }
        let kindNode = fields[kind]!
        let parsedKind: StateDefinition.Kind
        switch kind {
        case "task":
            allowOnly(["task", "input", "timeout", "retry", "next", "catch", "result"])
            guard let activity = reader.string(kindNode, state: name, field: "task") else { return nil }
            let input = fields["input"].map { reader.template($0, state: name, field: "input") }
            parsedKind = .task(.init(activity: activity, input: input, timeout: timeout ?? defaultTimeout, retry: stateRetry))
        case "map":
            allowOnly(["map", "timeout", "retry", "next", "catch", "result"])
            guard let mapFields = reader.mapping(kindNode, state: name, field: "map", allowed: ["items", "task", "input", "max_concurrency"]) else { return nil }
            let items = reader.path(mapFields["items"], state: name, field: "map.items")
            if mapFields["items"] == nil { reader.fail(kindNode, state: name, field: "map.items", "is required") }
            let activity = reader.string(mapFields["task"], state: name, field: "map.task")
            if mapFields["task"] == nil { reader.fail(kindNode, state: name, field: "map.task", "is required") }
            let input = mapFields["input"].map { reader.template($0, state: name, field: "map.input") }
            let maxConcurrency = reader.int(mapFields["max_concurrency"], state: name, field: "map.max_concurrency", minimum: 1)
            guard let items, let activity else { return nil }
            parsedKind = .map(.init(items: items, task: .init(activity: activity, input: input, timeout: timeout ?? defaultTimeout, retry: stateRetry), maxConcurrency: maxConcurrency))
        case "choice":
            allowOnly(["choice", "default"])
            let rules = parseChoiceRules(kindNode, state: name)
            parsedKind = .choice(rules: rules, default: reader.string(fields["default"], state: name, field: "default"))
        case "wait_for":
            allowOnly(["wait_for", "timeout", "until", "on_timeout", "next", "result", "catch"])
            guard let signals = reader.stringList(kindNode, state: name, field: "wait_for") else { return nil }
            if signals.isEmpty { reader.fail(kindNode, state: name, field: "wait_for", "needs at least one signal") }
            if Set(signals).count != signals.count { reader.fail(kindNode, state: name, field: "wait_for", "names a signal twice") }
            var deadline = timeout.map(StateDefinition.Delay.duration)
            if let untilNode = fields["until"] {
                if timeout != nil { reader.fail(untilNode, state: name, field: "until", "and timeout exclude each other: wait a duration or until a timestamp") }
                deadline = reader.path(untilNode, state: name, field: "until").map(StateDefinition.Delay.until)
            }
            parsedKind = .waitFor(signals: signals, timeout: deadline, onTimeout: reader.string(fields["on_timeout"], state: name, field: "on_timeout"))
        case "sleep":
            allowOnly(["sleep", "next"])
            if let sleepFields = kindNode.mapping != nil ? reader.mapping(kindNode, state: name, field: "sleep", allowed: ["until"]) : nil {
                guard let path = reader.path(sleepFields["until"], state: name, field: "sleep.until") else {
                    if sleepFields["until"] == nil { reader.fail(kindNode, state: name, field: "sleep.until", "is required") }
                    return nil
                }
                parsedKind = .sleep(.until(path))
            } else {
                guard let duration = reader.duration(kindNode, state: name, field: "sleep") else { return nil }
                parsedKind = .sleep(.duration(duration))
            }
        case "pass":
            allowOnly(["pass", "next", "result"])
            if kindNode.tagName == .bool || kindNode.tagName == .null {
                parsedKind = .pass(nil)
            } else {
                parsedKind = .pass(reader.template(kindNode, state: name, field: "pass"))
            }
        case "start_workflow":
            allowOnly(["start_workflow", "next", "result", "catch"])
            guard let startFields = reader.mapping(kindNode, state: name, field: "start_workflow", allowed: ["type", "input", "id", "wait", "for_each"]) else { return nil }
            guard let type = reader.string(startFields["type"], state: name, field: "start_workflow.type") else {
                if startFields["type"] == nil { reader.fail(kindNode, state: name, field: "start_workflow.type", "is required") }
                return nil
            }
            var wait = true
            if let waitNode = startFields["wait"] {
                guard let value = waitNode.bool else {
                    reader.fail(waitNode, state: name, field: "start_workflow.wait", "must be true or false")
                    return nil
                }
                wait = value
            }
            let forEach = reader.path(startFields["for_each"], state: name, field: "start_workflow.for_each")
            if forEach != nil, wait {
                reader.fail(kindNode, state: name, field: "start_workflow.wait", "must be false with for_each: children started per item are not waited for")
            }
            parsedKind = .startWorkflow(.init(
                type: type, input: startFields["input"].map { reader.template($0, state: name, field: "start_workflow.input") },
                id: startFields["id"].map { reader.template($0, state: name, field: "start_workflow.id") }, wait: wait, forEach: forEach))
        case "send_signal":
            allowOnly(["send_signal", "next", "result", "catch"])
            guard let signalFields = reader.mapping(kindNode, state: name, field: "send_signal", allowed: ["workflow", "name", "payload"]) else { return nil }
            guard let workflowNode = signalFields["workflow"], let signalName = reader.string(signalFields["name"], state: name, field: "send_signal.name") else {
                reader.fail(kindNode, state: name, field: "send_signal", "needs workflow and name")
                return nil
            }
            parsedKind = .sendSignal(.init(
                workflow: reader.template(workflowNode, state: name, field: "send_signal.workflow"), name: signalName,
                payload: signalFields["payload"].map { reader.template($0, state: name, field: "send_signal.payload") }))
        case "succeed":
            allowOnly(["succeed", "output"])
            parsedKind = .succeed(output: fields["output"].map { reader.template($0, state: name, field: "output") })
        default:  // fail
            allowOnly(["fail"])
            guard let failFields = reader.mapping(kindNode, state: name, field: "fail", allowed: ["error", "message"]) else { return nil }
            guard let code = reader.string(failFields["error"], state: name, field: "fail.error") else {
                reader.fail(kindNode, state: name, field: "fail.error", "is required")
                return nil
            }
            parsedKind = .fail(code: code, message: reader.string(failFields["message"], state: name, field: "fail.message"))
        }
        return StateDefinition(kind: parsedKind, next: next, catch: catchRules, result: result)
    }

    mutating func parseCatch(_ node: Node, state: String) -> [StateDefinition.CatchRule] {
        guard let sequence = node.sequence else {
            reader.fail(node, state: state, field: "catch", "must be a list of {errors, next}")
            return []
        }
        return sequence.compactMap { item in
            guard let fields = reader.mapping(item, state: state, field: "catch", allowed: ["errors", "next", "result"]) else { return nil }
            guard let errors = reader.stringList(fields["errors"], state: state, field: "catch.errors"),
                let next = reader.string(fields["next"], state: state, field: "catch.next")
            else {
                reader.fail(item, state: state, field: "catch", "needs errors and next")
                return nil
            }
            return .init(errors: errors.map(DottedPattern.init), next: next, result: reader.path(fields["result"], state: state, field: "catch.result"))
        }
    }

    mutating func parseChoiceRules(_ node: Node, state: String) -> [StateDefinition.ChoiceRule] {
        guard let sequence = node.sequence else {
            reader.fail(node, state: state, field: "choice", "must be a list of rules {path, equals|not_equals|exists|greater_than|less_than, next}")
            return []
        }
        let tests = ["equals", "not_equals", "exists", "greater_than", "less_than"]
        return sequence.compactMap { item in
            guard let fields = reader.mapping(item, state: state, field: "choice", allowed: Set(tests + ["path", "next"])) else { return nil }
            let path = reader.path(fields["path"], state: state, field: "choice.path")
            let next = reader.string(fields["next"], state: state, field: "choice.next")
            let given = tests.filter { fields[$0] != nil }
            guard given.count == 1, let testName = given.first, let testNode = fields[testName] else {
                reader.fail(item, state: state, field: "choice", "a rule needs exactly one of \(tests.joined(separator: ", "))")
                return nil
            }
            let test: StateDefinition.ChoiceRule.Test
            switch testName {
            case "equals": test = .equals(reader.json(testNode))
            case "not_equals": test = .notEquals(reader.json(testNode))
            case "exists":
                guard let flag = testNode.bool else {
                    reader.fail(testNode, state: state, field: "choice.exists", "must be true or false")
                    return nil
                }
                test = .exists(flag)
            default:
                guard let bound = reader.double(testNode, state: state, field: "choice.\(testName)", minimum: -.greatestFiniteMagnitude) else { return nil }
                test = testName == "greater_than" ? .greaterThan(bound) : .lessThan(bound)
            }
            if fields["path"] == nil { reader.fail(item, state: state, field: "choice.path", "is required") }
            if fields["next"] == nil { reader.fail(item, state: state, field: "choice.next", "is required") }
            guard let path, let next else { return nil }
            return .init(path: path, test: test, next: next)
        }
    }
}
