import Foundation

/// An instance loaded `FOR UPDATE` inside a transaction, with the changes a transition makes to it.
struct LockedWorkflow: Sendable {
    let id: String
    let type: String
    let version: String
    var status: WorkflowStatus
    var state: String?
    var output: JSONValue?
    var error: StateMachine.WorkflowFailure?
    /// The signals a `wait_for` waits for; empty when the instance waits for none.
    var waitingFor: [String]
    var visit: Int64
    var eventSeq: Int
    var cancelRequested: Bool
    let correlationID: String?
    /// The `start_workflow` wait of the parent this instance reports its end to.
    let parent: ParentLink?
    /// The status when locked (or last saved): `save` tells the parent once, when the instance ends.
    private(set) var lockedStatus: WorkflowStatus
    /// The time of this transition (the engine's clock, which follows the database's).
    var now: Date
    /// The progress of the map state the instance is in (see `MapProgress`).
    var mapProgress: MapProgress?

    /// `nil` until loaded: a map item's completion does without (see `TaskQueue.conclude`).
    private var loadedContext: JSONValue?
    /// Set when the context is assigned: only then does `save` write it.
    private(set) var contextChanged = false

    /// The context the state machine reads and writes (with the input at `$.input`). Read only
    /// once loaded (`isContextLoaded`): the lock loads it unless told the transition needs none.
    var context: JSONValue {
        get {
            guard let loadedContext else { preconditionFailure("the context of workflow \(id) was read before it was loaded") }
            return loadedContext
        }
        set {
            loadedContext = newValue
            contextChanged = true
        }
    }

    var isContextLoaded: Bool { loadedContext != nil }

    /// Puts the context as stored in place, unchanged.
    mutating func receiveContext(_ context: JSONValue) {
        loadedContext = context
    }

    private(set) var newEvents: [NewEvent] = []
    private(set) var newTasks: [NewTask] = []

    init(
        id: String, type: String, version: String, status: WorkflowStatus, state: String?, context: JSONValue?,
        waitingFor: [String], visit: Int64, eventSeq: Int, cancelRequested: Bool, correlationID: String?, parent: ParentLink? = nil,
        mapProgress: MapProgress? = nil, now: Date
    ) {
        self.id = id
        self.type = type
        self.version = version
        self.status = status
        self.state = state
        self.loadedContext = context
        self.waitingFor = waitingFor
        self.visit = visit
        self.eventSeq = eventSeq
        self.cancelRequested = cancelRequested
        self.correlationID = correlationID
        self.parent = parent
        self.lockedStatus = status
        self.mapProgress = mapProgress
        self.now = now
    }

    /// The context as stored: without `$.input`, which the row keeps once, in its own column
    /// (the loader refuses a definition that writes there, so nothing is lost).
    var storedContext: JSONValue {
        guard var fields = context.objectValue else { return context }
        fields["input"] = nil
        return .object(fields)
    }

    /// The context a transition sees: the stored one with the input back at `$.input`.
    static func context(stored: JSONValue, input: JSONValue) -> JSONValue {
        guard var fields = stored.objectValue else { return stored }
        fields["input"] = input
        return .object(fields)
    }

    /// `context(stored:input:)` from the columns' JSON texts.
    static func context(storedText: String, inputText: String) throws -> JSONValue {
        context(stored: try JSONValue(json: storedText), input: try JSONValue(json: inputText))
    }

    /// True when this transition ends the instance.
    var endsNow: Bool { status.isTerminal && !lockedStatus.isTerminal }

    mutating func addEvent(_ type: EventRecord.Kind, state: String? = nil, attempt: Int? = nil, data: JSONValue? = nil, at: Date? = nil) {
        eventSeq += 1
        newEvents.append(NewEvent(seq: eventSeq, type: type, state: state, attempt: attempt, data: data, at: at ?? now))
    }

    mutating func enqueue(_ task: NewTask) {
        newTasks.append(task)
    }

    /// Forgets the changes written by a `save` within the transaction, so the next save writes only
    /// what came after.
    mutating func markSaved() {
        newEvents = []
        newTasks = []
        lockedStatus = status
        contextChanged = false
    }

    /// The client's view of this instance as it will be once the transaction commits.
    func snapshot(input: JSONValue, createdAt: Date) -> WorkflowRecord {
        WorkflowRecord(
            id: id, type: type, version: version, status: status, state: state, input: input, context: storedContext, output: output,
            error: error, createdAt: createdAt, updatedAt: now, completedAt: status.isTerminal ? now : nil,
            waiting: WorkflowRecord.Wait(status: status, signals: waitingFor, timerAt: newTasks.last(where: { $0.kind == .timer })?.runAt))
    }

    /// True while a transition may still move the instance (dead-lettered map siblings still finish).
    var isActive: Bool { !status.isTerminal }
}

/// Where a child workflow reports its end: the parent's `start_workflow` state and its visit.
struct ParentLink: Sendable, Hashable {
    var workflowID: String
    var state: String
    var visit: Int64
}

struct NewEvent: Sendable {
    var seq: Int
    var type: EventRecord.Kind
    var state: String?
    var attempt: Int?
    var data: JSONValue?
    var at: Date
}

struct NewTask: Sendable {
    var state: String
    var visit: Int64
    var kind: TaskKind
    var activity: String
    var itemIndex: Int?
    var input: JSONValue
    var maxAttempts: Int
    var runAt: Date
    var timeoutMilliseconds: Int64
    var idempotencyKey: String
}
