import Crypto
import Foundation
import Logging
import PostgresNIO

/// The durable workflow engine: every operation is one PostgreSQL transaction that locks the
/// instance, asks the pure `StateMachine` what happens, and writes the result.
///
/// Its parts, by role (each a type in the folder of its name, sharing one `EngineCore`):
/// - `queue` (`TaskQueue`, `Queue/`): `claim` (the claim query is `WorkflowStore.claim`),
///   `conclude` (a batch of finished attempts in three statements), the retry decision
///   (`AttemptVerdict`), eager dispatch, transactional attempts, rescue of expired leases.
/// - `Transitions` (`Transition/`): `StateMachine` decides what follows (`advance`, `caught`, …),
///   `Transitions.apply` writes it into the `LockedWorkflow`; `MapProgress`.
/// - `lifecycle` (`WorkflowLifecycle`, `Lifecycle/`): `start`, `signal`, `cancel`, schedules.
/// - `operations` (`Operations`, `Operations/`): dead letters, activity limits, pruning.
/// - `reads` (`Reads`, `Reads/`): an instance, its history, lists, the dashboard.
public final class Engine: Sendable {
    public struct Configuration: Sendable {
        /// Added to a task's timeout to form its lease.
        public var leaseGrace: Duration = .seconds(5)
        /// Limits this process writes to the database at `install` (any process may set more; all enforce them all).
        public var activityLimits: [ActivityLimit] = []
        /// How long a claimer trusts its copy of the database's activity limits.
        public var activityLimitsRefresh: Duration = .seconds(1)
        /// A ready task not started within this is late.
        public var lateAfter: Duration = .seconds(60)
        /// Items one `map` (or `start_workflow` with `for_each`) state may fan out to.
        public var maxMapItems = 10_000
        /// Signals one instance may hold buffered (received, not yet waited for).
        public var maxBufferedSignals = 1_000
        /// Events one instance may record: one that reaches it fails (`workflow.history_full`)
        /// instead of growing its history for ever (a loop that never ends, say). Room for the
        /// largest map (`maxMapItems` items of three events each, with retries).
        public var maxEventsPerWorkflow = 100_000
        /// How long a finished instance (completed, failed, cancelled) and its history are kept
        /// before the pruner deletes them; a workflow file's `retention` wins for its type.
        public var retention: Duration = .seconds(30 * 86_400)
        public init() {}
    }

    let core: EngineCore
    /// Claims tasks and concludes their attempts.
    public let queue: TaskQueue
    /// Starts, signals and cancels instances.
    public let lifecycle: WorkflowLifecycle
    /// Dead letters, activity limits, housekeeping.
    public let operations: Operations
    /// Instances, histories, lists, the dashboard.
    public let reads: Reads

    /// The pool to lease from now.
    public var client: PostgresClient { core.client }
    public var store: WorkflowStore { core.store }
    public var clock: any WallClock { core.clock }
    public var logger: Logger { core.logger }
    public var configuration: Configuration { core.configuration }

    public init(pool: DatabasePool, configuration: Configuration = .init(), clock: any WallClock = SystemWallClock(), logger: Logger) {
        core = EngineCore(
            pool: pool, store: WorkflowStore(logger: logger), clock: clock, logger: logger, configuration: configuration,
            catalog: DefinitionCatalog(), claimPlanner: ClaimPlanner())
        queue = TaskQueue(core: core)
        lifecycle = WorkflowLifecycle(core: core)
        operations = Operations(core: core)
        reads = Reads(core: core)
    }

    /// Records the definitions in the database (each version once), registers their schedules and
    /// the activity limits, and makes them current for new instances.
    public func install(_ definitions: [WorkflowDefinition]) async throws {
        let now = clock.now()
        try await transaction { connection in
            for definition in definitions {
                try await store.saveDefinition(definition, on: connection)
                if let schedule = definition.schedule {
                    let cron = try CronExpression(schedule.cron)
                    guard let first = cron.next(after: now) else { continue }
                    try await store.saveSchedule(type: definition.type, cron: schedule.cron, firstFire: first, on: connection)
                }
            }
            try await store.deleteSchedules(
                except: definitions.filter { $0.schedule != nil }.map(\.type), among: definitions.map(\.type), on: connection)
        }
        try await operations.setActivityLimits(configuration.activityLimits)
        core.catalog.install(definitions)
    }

    public var definitions: [WorkflowDefinition] { core.catalog.all }

    public func definition(_ type: String) -> WorkflowDefinition? { core.catalog.current(type) }

    /// Runs `body` in a transaction; the body's own error is rethrown as it was thrown.
    @discardableResult
    public func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await core.transaction(body)
    }

    /// SHA-256 of `text` in lowercase hex: a start's request hash and a definition's version, both
    /// stored, so the text must never change.
    static func hash(_ text: String) -> String {
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in SHA256.hash(data: Data(text.utf8)) { Hex.append(byte, to: &hex) }
        return String(decoding: hex, as: UTF8.self)
    }
}

extension WorkflowDefinition {
    /// The version of this content: a hash of its normalized JSON form (independent of key order,
    /// comments and formatting of the source file).
    public func computedVersion() throws -> String {
        var copy = self
        copy.version = ""
        return String(Engine.hash(try JSONValue(encoding: copy).jsonText).prefix(16))
    }
}
