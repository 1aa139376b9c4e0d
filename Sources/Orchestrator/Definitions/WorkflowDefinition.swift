/// A validated workflow type: a state machine, its retry defaults and its schedule.
///
/// Produced by the `Workflows` loader from `workflows.d/<type>.yaml`; stored as JSON in the
/// `definitions` table under its `version` so running instances finish on the version they started with.
public struct WorkflowDefinition: Sendable, Hashable, Codable {
    public var type: String
    /// Hash of the normalized content; set by the loader.
    public var version: String
    public var start: String
    public var states: [String: StateDefinition]
    public var retry: RetryPolicy
    public var schedule: Schedule?
    /// A ready task not started within this is late (overrides the server's threshold).
    public var lateAfter: Duration?
    /// State entered when the workflow is cancelled (compensation); the workflow still ends `cancelled`.
    public var onCancel: String?
    /// State entered when ops discard a dead letter; without it the workflow fails.
    public var onDiscard: String?
    /// The input field that names the instance (`$.input.order_id`): its id is `<type>:<value>`,
    /// and a second start with the same value answers the first instance.
    public var instanceID: JSONPath?
    /// The API roles that may start it (`[ops]` for refunds); `nil` means every role that starts workflows.
    public var startRoles: [String]?
    /// The API roles that may send a signal, per signal name (`approve: [ops]`); other signals: any.
    public var signalRoles: [String: [String]]?
    /// How long a finished instance is kept (overrides the server's retention).
    public var retention: Duration?

    public init(
        type: String, version: String = "", start: String, states: [String: StateDefinition],
        retry: RetryPolicy = .default, schedule: Schedule? = nil, lateAfter: Duration? = nil,
        onCancel: String? = nil, onDiscard: String? = nil, instanceID: JSONPath? = nil, startRoles: [String]? = nil,
        signalRoles: [String: [String]]? = nil, retention: Duration? = nil
    ) {
        self.type = type
        self.version = version
        self.start = start
        self.states = states
        self.retry = retry
        self.schedule = schedule
        self.lateAfter = lateAfter
        self.onCancel = onCancel
        self.onDiscard = onDiscard
        self.instanceID = instanceID
        self.startRoles = startRoles
        self.signalRoles = signalRoles
        self.retention = retention
    }

    /// The signals an instance accepts: every name some `wait_for` state waits for, sorted.
    public var signalNames: [String] {
        var names: Set<String> = []
        for state in states.values {
            if case .waitFor(let signals, _, _) = state.kind { names.formUnion(signals) }
        }
        return names.sorted()
    }

    /// A cron schedule that starts one instance per fire time.
    public struct Schedule: Sendable, Hashable, Codable {
        public var cron: String
        public var input: JSONValue
        public init(cron: String, input: JSONValue = .emptyObject) {
            self.cron = cron
            self.input = input
        }
    }
}

/// One state of a workflow's state machine.
public struct StateDefinition: Sendable, Hashable, Codable {
    public var kind: Kind
    public var next: String?
    public var `catch`: [CatchRule]
    /// Where the state's result goes in the context; `nil` means under the state's name.
    public var result: JSONPath?

    public init(kind: Kind, next: String? = nil, catch: [CatchRule] = [], result: JSONPath? = nil) {
        self.kind = kind
        self.next = next
        self.catch = `catch`
        self.result = result
    }

    public enum Kind: Sendable, Hashable, Codable {
        case task(TaskSpec)
        case choice(rules: [ChoiceRule], default: String?)
        /// Waits for the first of `signals`; `timeout` is a duration from entry or a timestamp read from the context.
        case waitFor(signals: [String], timeout: Delay?, onTimeout: String?)
        case sleep(Delay)
        case map(MapSpec)
        case pass(ValueTemplate?)
        case succeed(output: ValueTemplate?)
        case fail(code: String, message: String?)
        /// Starts another workflow; with `wait`, its output is the state's result and its error
        /// code reaches `catch`.
        case startWorkflow(StartSpec)
        /// Signals another workflow (delivered through its queue); the state moves on at once.
        case sendSignal(SignalSpec)
    }

    public struct StartSpec: Sendable, Hashable, Codable {
        public var type: String
        /// The child's input; defaults to `{}`.
        public var input: ValueTemplate?
        /// The child's id; defaults to its type's `instance_id`, else `<parent id>:<state>:<visit>` (`:<index>` per item).
        public var id: ValueTemplate?
        public var wait: Bool
        /// One child per item of this list (without waiting); `input` and `id` see `$.item` and `$.index`.
        public var forEach: JSONPath?
        public init(type: String, input: ValueTemplate? = nil, id: ValueTemplate? = nil, wait: Bool = true, forEach: JSONPath? = nil) {
            self.type = type
            self.input = input
            self.id = id
            self.wait = wait
            self.forEach = forEach
        }
    }

    public struct SignalSpec: Sendable, Hashable, Codable {
        /// The target workflow's id.
        public var workflow: ValueTemplate
        public var name: String
        public var payload: ValueTemplate?
        public init(workflow: ValueTemplate, name: String, payload: ValueTemplate? = nil) {
            self.workflow = workflow
            self.name = name
            self.payload = payload
        }
    }

    /// Runs one activity per attempt.
    public struct TaskSpec: Sendable, Hashable, Codable {
        public var activity: String
        public var input: ValueTemplate?
        public var timeout: Duration
        public var retry: RetryPolicy
        public init(activity: String, input: ValueTemplate? = nil, timeout: Duration = .seconds(30), retry: RetryPolicy = .default) {
            self.activity = activity
            self.input = input
            self.timeout = timeout
            self.retry = retry
        }
    }

    /// Runs one task per item of a list; the results, in item order, are the state's result.
    public struct MapSpec: Sendable, Hashable, Codable {
        public var items: JSONPath
        /// The per-item task; its `input` template sees the context plus `$.item` and `$.index`.
        public var task: TaskSpec
        public var maxConcurrency: Int?
        public init(items: JSONPath, task: TaskSpec, maxConcurrency: Int? = nil) {
            self.items = items
            self.task = task
            self.maxConcurrency = maxConcurrency
        }
    }

    /// How long a `sleep` sleeps, or how long a `wait_for` waits.
    public enum Delay: Sendable, Hashable, Codable {
        case duration(Duration)
        /// An ISO-8601 timestamp read from the context.
        case until(JSONPath)
    }

    public struct ChoiceRule: Sendable, Hashable, Codable {
        public enum Test: Sendable, Hashable, Codable {
            case equals(JSONValue)
            case notEquals(JSONValue)
            case exists(Bool)
            case greaterThan(Double)
            case lessThan(Double)
        }
        public var path: JSONPath
        public var test: Test
        public var next: String
        public init(path: JSONPath, test: Test, next: String) {
            self.path = path
            self.test = test
            self.next = next
        }

        public func matches(_ context: JSONValue) -> Bool {
            let value = path.read(context)
            switch test {
            case .equals(let expected): return value == expected
            case .notEquals(let expected): return value != expected
            case .exists(let expected): return (value != nil && value != .null) == expected
            case .greaterThan(let bound): return (value?.numberValue).map { $0 > bound } ?? false
            case .lessThan(let bound): return (value?.numberValue).map { $0 < bound } ?? false
            }
        }
    }

    public struct CatchRule: Sendable, Hashable, Codable {
        public var errors: [DottedPattern]
        public var next: String
        /// Where the caught error `{code, message}` goes; `nil` means `$.<state>_error`.
        public var result: JSONPath?
        public init(errors: [DottedPattern], next: String, result: JSONPath? = nil) {
            self.errors = errors
            self.next = next
            self.result = result
        }
    }

    /// The activity this state runs, if any.
    public var taskSpec: TaskSpec? {
        switch kind {
        case .task(let spec): spec
        case .map(let spec): spec.task
        default: nil
        }
    }

    /// The list a `map` state, or a `start_workflow` state with `for_each`, makes one task or child per item of.
    public var fanOut: JSONPath? {
        switch kind {
        case .map(let spec): spec.items
        case .startWorkflow(let spec): spec.forEach
        default: nil
        }
    }

    /// The child a `start_workflow` state starts, if it is one.
    public var startSpec: StartSpec? {
        if case .startWorkflow(let spec) = kind { return spec }
        return nil
    }

    /// Every state this one can move to.
    public var successors: [String] {
        var names: [String] = []
        if let next { names.append(next) }
        names += `catch`.map(\.next)
        switch kind {
        case .choice(let rules, let fallback):
            names += rules.map(\.next)
            if let fallback { names.append(fallback) }
        case .waitFor(_, _, let onTimeout):
            if let onTimeout { names.append(onTimeout) }
        default: break
        }
        return names
    }

    /// The YAML name of this state's kind (`task`, `wait_for`, …).
    public var kindName: String {
        switch kind {
        case .task: "task"
        case .choice: "choice"
        case .waitFor: "wait_for"
        case .sleep: "sleep"
        case .map: "map"
        case .pass: "pass"
        case .succeed: "succeed"
        case .fail: "fail"
        case .startWorkflow: "start_workflow"
        case .sendSignal: "send_signal"
        }
    }

    public var isTerminal: Bool {
        switch kind {
        case .succeed, .fail: true
        default: false
        }
    }
}
