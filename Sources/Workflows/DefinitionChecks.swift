import Orchestrator

/// The graph checks of a parsed definition: names that must exist, states that must be reachable,
/// and a way to end.
struct DefinitionChecks {
    let definition: WorkflowDefinition
    let file: String
    let knownActivities: Set<String>

    func run() -> [WorkflowFileError] {
        var errors: [WorkflowFileError] = []
        func fail(_ state: String?, _ field: String?, _ message: String) {
            errors.append(WorkflowFileError(file: file, state: state, field: field, message: message))
        }
        let states = definition.states
        if states[definition.start] == nil { fail(nil, "start", "unknown state '\(definition.start)'") }
        if let onCancel = definition.onCancel, states[onCancel] == nil { fail(nil, "on_cancel", "unknown state '\(onCancel)'") }
        if let onDiscard = definition.onDiscard, states[onDiscard] == nil { fail(nil, "on_discard", "unknown state '\(onDiscard)'") }

        for name in ["input", "started_by"] where states[name] != nil {
            fail(name, nil, "is a reserved name: the context keeps the workflow's \(name) there")
        }
        for (name, state) in states.sorted(by: { $0.key < $1.key }) {
            let writes = [("result", state.result)] + state.catch.map { ("catch.result", $0.result) }
            for case (let field, let path?) in writes where path.segments.first.map({ $0 == .key("input") }) ?? true {
                fail(name, field, "writes into \(path): the workflow's input is read-only")
            }
            if let spec = state.taskSpec, !knownActivities.contains(spec.activity) {
                fail(name, state.kind.isMap ? "map.task" : "task", "unknown activity '\(spec.activity)'")
            }
            switch state.kind {
            case .task, .map, .waitFor, .sleep, .pass, .startWorkflow, .sendSignal:
                if state.next == nil { fail(name, "next", "is required: where does the workflow go after this state?") }
            case .choice(let rules, let fallback):
                if rules.isEmpty && fallback == nil { fail(name, "choice", "needs at least one rule or a default") }
            case .succeed, .fail:
                break
            }
            if let next = state.next, states[next] == nil { fail(name, "next", "unknown state '\(next)'") }
            for rule in state.catch where states[rule.next] == nil { fail(name, "catch.next", "unknown state '\(rule.next)'") }
            if case .choice(let rules, let fallback) = state.kind {
                for rule in rules where states[rule.next] == nil { fail(name, "choice.next", "unknown state '\(rule.next)'") }
                if let fallback, states[fallback] == nil { fail(name, "default", "unknown state '\(fallback)'") }
            }
            if case .waitFor(_, let timeout, let onTimeout) = state.kind, let onTimeout {
                if states[onTimeout] == nil { fail(name, "on_timeout", "unknown state '\(onTimeout)'") }
                if timeout == nil { fail(name, "on_timeout", "needs a timeout or until") }
            }
        }

        // Reachability from the start and the compensation entries.
        var reached = Set<String>()
        var frontier = [definition.start] + [definition.onCancel, definition.onDiscard].compactMap { $0 }
        while let name = frontier.popLast() {
            guard reached.insert(name).inserted, let state = states[name] else { continue }
            frontier += state.successors
        }
        for name in states.keys.sorted() where !reached.contains(name) {
            fail(name, nil, "unreachable: no state leads here from start '\(definition.start)'")
        }
        if !states.values.contains(where: \.isTerminal) {
            fail(nil, "states", "no terminal state: add a succeed or fail state")
        }
        return errors
    }
}

extension StateDefinition.Kind {
    var isMap: Bool {
        if case .map = self { return true }
        return false
    }
}
