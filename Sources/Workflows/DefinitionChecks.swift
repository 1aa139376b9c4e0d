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
        var unknownTargets = false
        /// A state named by `field` must exist; a near miss is named ("did you mean").
        func reference(_ target: String?, from state: String?, _ field: String) {
            guard let target, states[target] == nil else { return }
            unknownTargets = true
            fail(state, field, "unknown state '\(target)'\(Self.suggestion(for: target, among: states.keys, named: "states"))")
        }
        reference(definition.start, from: nil, "start")
        reference(definition.onCancel, from: nil, "on_cancel")
        reference(definition.onDiscard, from: nil, "on_discard")

        let signals = definition.signalNames
        for signal in (definition.signalRoles ?? [:]).keys.sorted() where !signals.contains(signal) {
            let known = signals.isEmpty ? "; no state waits for a signal" : Self.suggestion(for: signal, among: signals, named: "signals")
            fail(nil, "signal_roles", "'\(signal)' is not a signal any wait_for waits for\(known)")
        }
        for name in ["input", "started_by"] where states[name] != nil {
            fail(name, nil, "is a reserved name: the context keeps the workflow's \(name) there")
        }
        for (name, state) in states.sorted(by: { $0.key < $1.key }) {
            let writes = [("result", state.result)] + state.catch.map { ("catch.result", $0.result) }
            for case (let field, let path?) in writes where path.segments.first.map({ $0 == .key("input") }) ?? true {
                fail(name, field, "writes into \(path): the workflow's input is read-only")
            }
            if let spec = state.taskSpec, !knownActivities.contains(spec.activity) {
                fail(name, state.kind.isMap ? "map.task" : "task",
                     "unknown activity '\(spec.activity)'\(Self.suggestion(for: spec.activity, among: knownActivities, named: "activities"))")
            }
            switch state.kind {
            case .task, .map, .waitFor, .sleep, .pass, .startWorkflow, .sendSignal:
                if state.next == nil { fail(name, "next", "is required: where does the workflow go after this state?") }
            case .choice(let rules, let fallback):
                if rules.isEmpty && fallback == nil { fail(name, "choice", "needs at least one rule or a default") }
            case .succeed, .fail:
                break
            }
            reference(state.next, from: name, "next")
            for rule in state.catch { reference(rule.next, from: name, "catch.next") }
            if case .choice(let rules, let fallback) = state.kind {
                for rule in rules { reference(rule.next, from: name, "choice.next") }
                reference(fallback, from: name, "default")
            }
            if case .waitFor(_, let timeout, let onTimeout) = state.kind, onTimeout != nil {
                reference(onTimeout, from: name, "on_timeout")
                if timeout == nil { fail(name, "on_timeout", "needs a timeout or until") }
            }
        }

        // Reachability from the start and the compensation entries. Behind a misspelled target
        // everything looks unreachable: those errors would only hide the one that matters.
        var reached = Set<String>()
        var frontier = [definition.start] + [definition.onCancel, definition.onDiscard].compactMap { $0 }
        while let name = frontier.popLast() {
            guard reached.insert(name).inserted, let state = states[name] else { continue }
            frontier += state.successors
        }
        for name in states.keys.sorted() where !unknownTargets && !reached.contains(name) {
            fail(name, nil, "unreachable: no state leads here from start '\(definition.start)'")
        }
        if !states.values.contains(where: \.isTerminal) {
            fail(nil, "states", "no terminal state: add a succeed or fail state")
        }
        return errors
    }

    /// " (did you mean 'ship'?)" for the closest candidate within a few edits, else the list of them.
    static func suggestion(for name: String, among candidates: some Collection<String>, named plural: String) -> String {
        let scored = candidates.map { ($0, editDistance(name, $0)) }.filter { $0.1 <= max(2, name.count / 3) }
        if let best = scored.min(by: { ($0.1, $0.0) < ($1.1, $1.0) }) { return " (did you mean '\(best.0)'?)" }
        return "; the \(plural) are \(candidates.sorted().joined(separator: ", "))"
    }

    /// Levenshtein distance: the fewest insertions, deletions and substitutions from `a` to `b`.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1] + Array(repeating: 0, count: b.count)
            for (j, y) in b.enumerated() {
                current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

extension StateDefinition.Kind {
    var isMap: Bool {
        if case .map = self { return true }
        return false
    }
}
