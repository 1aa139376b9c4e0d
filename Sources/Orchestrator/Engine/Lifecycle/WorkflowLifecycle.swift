import Foundation
import PostgresNIO

/// An instance's life from outside: `start` (also a child's, in its parent's transition),
/// `signal`, `cancel` (`WorkflowLifecycle+Signals.swift`) and the schedules' fires.
public struct WorkflowLifecycle: EnginePart {
    let core: EngineCore

    /// Starts an instance, or returns the one an earlier identical request started (`created` false).
    /// Ids `<type>@…` of a scheduled type are the schedule's (see `scheduledID`).
    ///
    /// A start whose first state is a task, a sleep or the end is one statement, committed on its
    /// own: the instance is inserted as its first transition leaves it (`PreparedStart`).
    public func start(_ request: StartRequest) async throws -> (workflow: WorkflowRecord, created: Bool) {
        if let id = request.id, let at = id.firstIndex(of: "@"), catalog.current(String(id[..<at]))?.schedule != nil {
            throw OrchestratorError(.invalidInput, "ids of the form '\(id[..<at])@…' are reserved for the schedule of \(id[..<at])")
        }
        var start = try prepare(request, parent: nil)
        if transitions.applyInPlace(start.transition, to: &start.workflow) {
            return try await client.withConnection { connection in try await insert(start, on: connection) }
        }
        return try await transaction { connection in
            try await startInSteps(start, on: connection)
        }
    }

    /// Starts a child in its parent's transition; with `parent`, its end is delivered to that wait.
    /// Returns the child's id. Starts nest (a child may start its own), to a bounded depth.
    func startChild(_ request: StartRequest, parent: ParentLink?, on connection: PostgresConnection) async throws -> String {
        guard Self.startNesting < Self.maximumStartNesting else {
            throw OrchestratorError(.invalidInput, "more than \(Self.maximumStartNesting) workflows started one inside another in one transition")
        }
        let (child, created) = try await Self.$startNesting.withValue(Self.startNesting + 1) {
            try await start(request, parent: parent, on: connection)
        }
        if !created, parent != nil {
            throw OrchestratorError(.workflowIDConflict, "workflow '\(child.id)' already exists: a child waited for must be new")
        }
        return child.id
    }

    @TaskLocal static var startNesting = 0
    static let maximumStartNesting = 16

    /// Starts an instance in the caller's transaction (a child in its parent's, a schedule's fire).
    func start(_ request: StartRequest, parent: ParentLink? = nil, on connection: PostgresConnection) async throws -> (workflow: WorkflowRecord, created: Bool) {
        var start = try prepare(request, parent: parent)
        if transitions.applyInPlace(start.transition, to: &start.workflow) {
            return try await insert(start, on: connection)
        }
        return try await startInSteps(start, on: connection)
    }

    /// Checks a start and decides its first transition, without the database.
    private func prepare(_ request: StartRequest, parent: ParentLink?) throws -> PreparedStart {
        guard case .object = request.input else {
            throw OrchestratorError(.invalidInput, "a workflow's input must be a JSON object")
        }
        try InputCheck.depth(of: request.input, named: "a workflow's input")
        guard let definition = catalog.current(request.type) else {
            let known = catalog.all.map(\.type).sorted().joined(separator: ", ")
            throw OrchestratorError(.unknownWorkflowType, "no workflow type '\(request.type)' is defined; the types are \(known.isEmpty ? "(none)" : known)")
        }
        try checkFanOut(of: definition, input: request.input)
        var request = request
        if let path = definition.instanceID {
            guard let value = path.read(["input": request.input])?.stringValue, (1...100).contains(value.utf8.count) else {
                throw OrchestratorError(.invalidInput, "\(path) must be a string of 1 to 100 bytes in UTF-8: it names the \(definition.type)")
            }
            let derived = "\(definition.type):\(value)"
            if let given = request.id, given != derived {
                throw OrchestratorError(.invalidInput, "a \(definition.type)'s id is '\(derived)', from \(path); omit id or send that one")
            }
            request.id = derived
        }
        if let id = request.id { try InputCheck.identifier(id, named: "a workflow id") }
        if let key = request.idempotencyKey { try InputCheck.identifier(key, named: "an idempotency key") }
        let now = clock.now()
        let requestHash = Engine.hash(JSONValue.object(["type": .string(request.type), "input": request.input, "id": request.id.map(JSONValue.string) ?? .null]).jsonText)
        var workflow = LockedWorkflow(
            id: request.id ?? WorkflowID.generate(at: now), type: definition.type, version: definition.version, status: .running, state: nil,
            context: StateMachine.initialContext(input: request.input, startedBy: request.startedBy), waitingFor: [], visit: 0, eventSeq: 0,
            cancelRequested: false, correlationID: request.correlationID, parent: parent, now: now)
        workflow.addEvent(.workflowStarted, data: ["type": .string(definition.type), "version": .string(definition.version), "input": request.input])
        let machine = StateMachine(definition)
        return PreparedStart(
            workflow: workflow, request: request, requestHash: requestHash, machine: machine,
            transition: machine.start(input: request.input, startedBy: request.startedBy, now: now))
    }

    /// Inserts an instance its first transition has moved already, with its tasks and events, in
    /// one statement; or answers with the instance an earlier request started.
    private func insert(_ start: PreparedStart, on connection: PostgresConnection) async throws -> (workflow: WorkflowRecord, created: Bool) {
        let inserted = try await store.insert(start.newWorkflow, on: connection)
        guard inserted else { return try await earlier(start, on: connection) }
        return started(start.workflow, start, on: connection)
    }

    /// A start whose first transition reads or writes other rows (a map's waiting items, a
    /// buffered signal, a child, a signal sent): the instance is inserted first, then moved.
    private func startInSteps(_ start: PreparedStart, on connection: PostgresConnection) async throws -> (workflow: WorkflowRecord, created: Bool) {
        let inserted = try await store.insertWorkflow(start.newWorkflow, on: connection)
        guard inserted else { return try await earlier(start, on: connection) }
        var workflow = start.workflow
        try await transitions.apply(start.transition, to: &workflow, machine: start.machine, on: connection)
        try await store.save(workflow, on: connection)
        return started(workflow, start, on: connection)
    }

    private func started(_ workflow: LockedWorkflow, _ start: PreparedStart, on connection: PostgresConnection) -> (workflow: WorkflowRecord, created: Bool) {
        let type = workflow.type
        AfterCommit.run(on: connection) { EngineMetrics.workflowStarted(type: type) }
        logger.debug("workflow started", metadata: [LogKey.workflowID: "\(workflow.id)", LogKey.workflowType: "\(workflow.type)"])
        return (workflow.snapshot(input: start.request.input, createdAt: workflow.now), true)
    }

    /// The instance an earlier request with this id or idempotency key started, when it was the
    /// same request; a conflict otherwise.
    private func earlier(_ start: PreparedStart, on connection: PostgresConnection) async throws -> (workflow: WorkflowRecord, created: Bool) {
        let request = start.request
        guard let existing = try await store.existingWorkflow(id: request.id, idempotencyKey: request.idempotencyKey, on: connection) else {
            throw OrchestratorError(.workflowIDConflict, "workflow '\(start.workflow.id)' could not be created")
        }
        // An instance named by its input (`instance_id`) answers every start for that name.
        guard existing.requestHash == start.requestHash || (start.machine.definition.instanceID != nil && !existing.byKey) else {
            if existing.byKey {
                throw OrchestratorError(.idempotencyKeyReused, "idempotency key was already used for a different request (workflow \(existing.id))")
            }
            throw OrchestratorError(.workflowIDConflict, "workflow '\(existing.id)' already exists with a different request")
        }
        return (try await existingWorkflow(existing.id, on: connection), false)
    }

    /// Refuses a start whose input already holds a list longer than a fan-out state may take.
    func checkFanOut(of definition: WorkflowDefinition, input: JSONValue) throws {
        for (name, state) in definition.states.sorted(by: { $0.key < $1.key }) {
            guard let path = state.fanOut, let count = path.read(["input": input])?.arrayValue?.count else { continue }
            if count > configuration.maxMapItems { throw tooManyItems(count, state: name) }
        }
    }
}
