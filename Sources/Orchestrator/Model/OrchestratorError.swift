/// The engine's error: a stable dotted `code` for machines and a message for people.
public struct OrchestratorError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Stable machine-readable error codes; extensible without breaking callers.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let invalidJSON = Code("json.invalid")
        public static let invalidInput = Code("workflow.invalid_input")
        public static let inputTooDeep = Code("workflow.input_too_deep")
        public static let contextTooDeep = Code("workflow.context_too_deep")
        public static let historyFull = Code("workflow.history_full")
        public static let tooManyItems = Code("workflow.too_many_items")
        public static let signalBufferFull = Code("signal.buffer_full")
        public static let unknownSignal = Code("signal.unknown")
        public static let unknownWorkflowType = Code("workflow.unknown_type")
        public static let workflowNotFound = Code("workflow.not_found")
        public static let workflowIDConflict = Code("workflow.id_conflict")
        public static let workflowNotActive = Code("workflow.not_active")
        public static let idempotencyKeyReused = Code("idempotency.key_reused")
        public static let deadLetterNotFound = Code("dead_letter.not_found")
        public static let taskNotFound = Code("task.not_found")
        public static let deadLetterResolved = Code("dead_letter.already_resolved")
        public static let definitionMissing = Code("definition.missing")
        public static let database = Code("database.error")
        public static let databaseUnavailable = Code("database.unavailable")
        public static let configuration = Code("configuration.invalid")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
