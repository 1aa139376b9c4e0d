import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Lets callers wait for a workflow's result without polling (`GET /v1/workflows/{id}?wait=30s`):
/// one `LISTEN` connection per process on the channel the database announces status changes on
/// (migration 0010), and any number of waiters, each woken when its workflow's id is announced.
///
/// A waiter reads the workflow after it is registered, so an announcement cannot slip between its
/// read and its wait; it also reads again every `recheckInterval` and after every reconnection, so
/// a lost connection delays an answer but never loses it. On graceful shutdown every waiter
/// answers at once with the workflow as it is.
public final class WorkflowWatcher: Service {
    public static let channel = "orchestrator_workflows"

    let engine: Engine
    let database: DatabaseConfiguration
    /// The process's listener, shared with others; `nil`: the watcher listens on its own.
    let notifications: NotificationListener?
    let recheckInterval: Duration
    let logger: Logger
    private let waiters = Mutex(Waiters())

    private struct Waiters {
        var byWorkflow: [String: [Int: Doorbell]] = [:]
        var nextID = 0
        var stopping = false
    }

    public init(
        engine: Engine, database: DatabaseConfiguration, notifications: NotificationListener? = nil, recheckInterval: Duration = .seconds(1),
        logger: Logger
    ) {
        self.engine = engine
        self.database = database
        self.notifications = notifications
        self.recheckInterval = recheckInterval
        self.logger = logger
    }

    public func run() async throws {
        let listener = notifications ?? NotificationListener(channels: [Self.channel], database: database, logger: logger)
        let subscription = listener.subscribe(Self.channel, connected: { self.ringAll() }, receive: { self.ring($0) })
        if notifications == nil {
            await listener.run()
        } else {
            // The shared listener runs as its own service: wait for the shutdown (or cancellation) here.
            try? await gracefulShutdown()
        }
        listener.unsubscribe(subscription)
        waiters.withLock { $0.stopping = true }
        ringAll()
    }

    /// The workflow once it has settled (see `WorkflowRecord.isSettled`), or as it is when
    /// `timeout` ends first. A database gone mid-wait would hold a read until the pool gives up
    /// connecting (a minute or more): `readGrace` after the wait, the waiter answers
    /// `database.unavailable` instead (its pending read, a pool lease, is cancelled).
    public func settled(_ id: String, within timeout: Duration) async throws -> WorkflowRecord {
        let deadline = ContinuousClock.now + timeout
        return try await withThrowingTaskGroup(of: WorkflowRecord.self) { group in
            group.addTask { try await self.readUntilSettled(id, by: deadline) }
            group.addTask {
                try await Task.sleep(until: deadline + Self.readGrace)
                throw OrchestratorError(.databaseUnavailable, "the database did not answer within the wait")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    /// How long past its wait a waiter's read may take.
    static let readGrace = Duration.seconds(5)

    private func readUntilSettled(_ id: String, by deadline: ContinuousClock.Instant) async throws -> WorkflowRecord {
        let doorbell = Doorbell()
        let waiter = waiters.withLock { waiters in
            waiters.nextID += 1
            waiters.byWorkflow[id, default: [:]][waiters.nextID] = doorbell
            return waiters.nextID
        }
        defer {
            waiters.withLock { waiters in
                waiters.byWorkflow[id]?[waiter] = nil
                if waiters.byWorkflow[id]?.isEmpty == true { waiters.byWorkflow[id] = nil }
            }
        }
        while true {
            let record = try await engine.reads.workflow(id)
            let left = deadline - ContinuousClock.now
            if record.isSettled || left <= .zero || Task.isCancelled || waiters.withLock({ $0.stopping }) { return record }
            await doorbell.wait(timeout: min(left, recheckInterval))
        }
    }

    private func ring(_ id: String) {
        let doorbells = waiters.withLock { $0.byWorkflow[id].map { Array($0.values) } ?? [] }
        for doorbell in doorbells { doorbell.ring() }
    }

    private func ringAll() {
        let doorbells = waiters.withLock { $0.byWorkflow.values.flatMap(\.values) }
        for doorbell in doorbells { doorbell.ring() }
    }
}
