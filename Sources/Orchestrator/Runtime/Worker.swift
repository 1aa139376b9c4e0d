import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Claims ready tasks of the activities it has, in batches, and runs them, up to `concurrency` at once.
///
/// `LISTEN/NOTIFY` wakes it as soon as work is enqueued; polling every `pollInterval` is the
/// fallback (and what fires durable timers). On graceful shutdown it stops claiming and gives the
/// running attempts `shutdownGrace` to finish and commit; then it abandons the rest and releases
/// their leases, so another worker takes them at once.
public final class Worker: Service {
    public struct Configuration: Sendable {
        public var id: String
        public var concurrency: Int
        public var batchSize: Int = 32
        public var pollInterval: Duration = .seconds(1)
        public var heartbeatInterval: Duration = .seconds(5)
        public var shutdownGrace: Duration = .seconds(30)
        /// Run at once the tasks this worker's completions enqueue (see `EagerDispatch`).
        public var eagerDispatch = true
        /// Completion batches committed at once, each on its own connection (at most
        /// `concurrency`). Measured with W1 at 16 slots: 4 lanes drained 2,000 chains in 8.7 s,
        /// one in 17.3 s (docs/performance.md).
        public var completionLanes = 4
        /// Outcomes that may wait for their commit while their slots run the next attempts; past
        /// that, a finished attempt keeps its slot until its own outcome commits (backpressure).
        /// Measured with W2 at 16 slots (in-process, stock durability, alternating runs): a backlog
        /// of 16 drained 1,214 and 1,132 jobs/s, one of 200 1,536 and 1,749 (docs/performance.md).
        public var completionBacklog = Completer.maxBatch
        public init(id: String = "worker-\(UUID().uuidString.prefix(8).lowercased())", concurrency: Int) {
            self.id = id
            self.concurrency = concurrency
        }
    }

    let engine: Engine
    let registry: ActivityRegistry
    let configuration: Configuration
    let database: DatabaseConfiguration
    /// The process's listener, shared with others; `nil`: the worker listens on its own.
    let notifications: NotificationListener?
    let logger: Logger
    private let doorbell = Doorbell()
    /// Attempts running, plus slots lent to a completion batch (eager dispatch).
    private let inFlight = Mutex(0)
    /// Tasks the completer leased to this worker, waiting for the claim loop to start them.
    private let handedOff = Mutex<[(task: ClaimedTask, snapshot: InstanceSnapshot)]>([])
    private let dispatchedCount = Mutex(0)
    /// The last claim found fewer due tasks than it asked for: nothing is queued for this worker.
    private let queueDrained = Atomic<Bool>(false)
    /// Work may be waiting that the last claim did not see: a task was announced since, the last
    /// claim was full, or an activity limit may have cut it short. Without it, a freed slot does
    /// not claim (the claim would find nothing); the poll still does, for timers and retries.
    private let mayHaveWork = Atomic<Bool>(true)
    /// When an announced task that was not due yet by this worker's clock becomes due: the
    /// announcing process's estimate of the database's time may run a little ahead of this one's.
    private let announcedDue = Mutex<ContinuousClock.Instant?>(nil)

    /// How many tasks this worker started without claiming them: leased by the completion that
    /// enqueued them (eager dispatch).
    public var dispatched: Int { dispatchedCount.withLock { $0 } }
    /// How many attempts the running (or last) `run()` concluded from their instance's snapshot,
    /// in one statement (`TaskQueue.concludeAtOnce`).
    public var concludedFromSnapshots: Int { runCompleter.withLock { $0?.concludedFromSnapshots ?? 0 } }
    private let runCompleter = Mutex<Completer?>(nil)
    /// Set on graceful shutdown: when the running attempts are abandoned.
    private let shutdownDeadline = Mutex<ContinuousClock.Instant?>(nil)

    public init(
        engine: Engine, registry: ActivityRegistry, database: DatabaseConfiguration, configuration: Configuration,
        notifications: NotificationListener? = nil, logger: Logger
    ) {
        self.engine = engine
        self.notifications = notifications
        self.registry = registry
        self.activitySet = registry.names
        self.activities = registry.names.sorted()
        self.database = database
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: LogKey.workerID] = "\(configuration.id)"
        self.logger = logger
    }

    /// The activities this worker claims: only those it can run (a registry never changes once
    /// the worker exists).
    let activities: [String]
    private let activitySet: Set<String>

    public func run() async throws {
        let completer = Completer(
            engine: engine, handoff: self, lanes: min(configuration.completionLanes, configuration.concurrency),
            backlog: configuration.completionBacklog, logger: logger)
        runCompleter.withLock { $0 = completer }
        await withTaskGroup(of: Void.self) { background in
            background.addTask { await completer.run() }
            let listener = notifications ?? NotificationListener(channels: [WorkflowStore.taskChannel], database: database, logger: logger)
            let subscription = listener.subscribe(
                WorkflowStore.taskChannel, connected: { self.announce() },
                receive: { payload in self.announce(dueAt: Int64(payload).map { Date(timeIntervalSince1970: Double($0) / 1000) }) })
            defer { listener.unsubscribe(subscription) }
            if notifications == nil { background.addTask { await listener.run() } }
            background.addTask { await self.heartbeat() }
            await withGracefulShutdownHandler {
                await self.claimLoop(completer: completer)
            } onGracefulShutdown: {
                let deadline = ContinuousClock.now + self.configuration.shutdownGrace
                self.shutdownDeadline.withLock { $0 = deadline }
                completer.drain(until: deadline)
                self.doorbell.ring()
            }
            // Every attempt has ended or been abandoned: stop the helpers, drain the completer.
            background.cancelAll()
        }
        do {
            try await engine.client.withConnection { connection in
                let released = try await engine.store.releaseLeases(owner: configuration.id, now: engine.clock.now(), on: connection)
                if released > 0 { logger.warning("released leases of abandoned attempts", metadata: ["tasks": "\(released)"]) }
                try await engine.store.markStopped(workerID: configuration.id, now: engine.clock.now(), on: connection)
            }
        } catch is CancellationError {
            // Cancelled rather than shut down gracefully: no more I/O; the leases will expire.
        } catch {
            logger.warning("could not release leases at shutdown; they will expire", metadata: [LogKey.error: "\(String(reflecting: error))"])
        }
        logger.info("worker stopped")
    }

    /// A task may be waiting (due at `dueAt`, if told): claim at the next free slot, and again
    /// once it is due by this worker's clock if it is not yet.
    private func announce(dueAt due: Date? = nil) {
        if let due {
            let ahead = min(due.timeIntervalSince(engine.clock.now()), configuration.pollInterval.seconds)
            if ahead > 0 {
                let instant = ContinuousClock.now + .seconds(ahead)
                announcedDue.withLock { $0 = min($0 ?? instant, instant) }
            }
        }
        mayHaveWork.store(true, ordering: .relaxed)
        doorbell.ring()
    }

    /// Whether an announced task has become due by now (forgetting it once it has).
    private func announcedTaskFellDue(by now: ContinuousClock.Instant) -> Bool {
        announcedDue.withLock { due in
            guard let instant = due, now >= instant else { return false }
            due = nil
            return true
        }
    }

    private var isStopping: Bool { shutdownDeadline.withLock { $0 != nil } }

    private func claimLoop(completer: Completer) async {
        logger.info("worker started", metadata: ["concurrency": "\(configuration.concurrency)", "activities": "\(activities.joined(separator: ","))"])
        await withDiscardingTaskGroup { group in
            /// Runs a task whose slot is already counted in `inFlight`.
            func start(_ task: ClaimedTask, snapshot: InstanceSnapshot?) {
                group.addTask {
                    await self.execute(task, snapshot: snapshot, completer: completer)
                    self.inFlight.withLock { $0 -= 1 }
                    self.doorbell.ring()
                }
            }
            func startHandedOff() {
                let leased = handedOff.withLock { tasks -> [(task: ClaimedTask, snapshot: InstanceSnapshot)] in
                    defer { tasks = [] }
                    return tasks
                }
                for (task, snapshot) in leased { start(task, snapshot: snapshot) }
            }
            var failures = 0
            var lastClaim = ContinuousClock.now
            while !isStopping && !Task.isCancelled {
                startHandedOff()
                let free = configuration.concurrency - inFlight.withLock { $0 }
                let now = ContinuousClock.now
                if free > 0,
                    mayHaveWork.exchange(false, ordering: .relaxed) || announcedTaskFellDue(by: now) || now - lastClaim >= configuration.pollInterval
                {
                    let requested = min(free, configuration.batchSize)
                    lastClaim = .now
                    do {
                        let claimed = try await engine.queue.claimWithSnapshots(owner: configuration.id, limit: requested, activities: activities)
                        queueDrained.store(claimed.count < requested, ordering: .relaxed)
                        if claimed.count == requested || engine.queue.knowsActivityLimits { mayHaveWork.store(true, ordering: .relaxed) }
                        failures = 0
                        inFlight.withLock { $0 += claimed.count }
                        for (task, snapshot) in claimed {
                            EngineMetrics.attemptStarted(activity: task.activity, path: "claimed")
                            start(task, snapshot: snapshot)
                        }
                        if claimed.count == requested { continue }
                    } catch {
                        mayHaveWork.store(true, ordering: .relaxed)
                        failures += 1
                        logger.warning("claim failed", metadata: [LogKey.error: "\(String(reflecting: error))"])
                        try? await Task.sleep(for: Backoff.delay(afterFailures: failures, base: .milliseconds(100)))
                        continue
                    }
                }
                // A ring (an announcement, a freed slot, a hand-over), an announced task falling due
                // or the next poll, whichever is first.
                let wake = min(lastClaim + configuration.pollInterval, announcedDue.withLock { $0 } ?? .now + configuration.pollInterval)
                await doorbell.wait(timeout: free > 0 ? max(wake - ContinuousClock.now, .zero) : configuration.pollInterval)
            }
            // Shutting down: let the running attempts (and those handed over meanwhile) finish until
            // the deadline, then abandon them.
            while inFlight.withLock({ $0 }) > 0, let deadline = shutdownDeadline.withLock({ $0 }), ContinuousClock.now < deadline {
                startHandedOff()
                await doorbell.wait(timeout: min(deadline - ContinuousClock.now, .seconds(1)))
            }
            if inFlight.withLock({ $0 }) > 0 {
                logger.warning("shutdown grace over; abandoning running attempts", metadata: ["attempts": "\(inFlight.withLock { $0 })"])
                group.cancelAll()
            }
        }
    }

    /// Claims what is due now, runs it and commits the outcomes; returns how many tasks ran.
    /// The stepping primitive of tests and one-shot tools; `run()` is this in a loop.
    public func runDue() async throws -> Int {
        let tasks = try await engine.queue.claim(owner: configuration.id, limit: configuration.batchSize, activities: activities)
        guard !tasks.isEmpty else { return 0 }
        await runClaimed(tasks)
        return tasks.count
    }

    /// Runs tasks this worker already holds and commits their outcomes.
    public func runClaimed(_ tasks: [ClaimedTask]) async {
        let completer = Completer(engine: engine, logger: logger)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await completer.run() }
            await withTaskGroup(of: Void.self) { attempts in
                for task in tasks { attempts.addTask { await self.execute(task, snapshot: nil, completer: completer) } }
            }
            group.cancelAll()
        }
    }

    /// Runs one attempt and hands its outcome over, with its instance's snapshot when the lease
    /// brought one; returns without an outcome when abandoned.
    func execute(_ task: ClaimedTask, snapshot: InstanceSnapshot?, completer: Completer) async {
        if let dueAt = task.dueAt {
            EngineMetrics.scheduleToStart(activity: task.activity, seconds: engine.clock.now().timeIntervalSince(dueAt))
        }
        if task.kind != .activity {
            // Timers and deliveries run nothing: their completion is the engine's step.
            await completer.hand(task, .completed(task.input), snapshot: snapshot)
            return
        }
        var taskLogger = logger
        for (key, value) in TaskQueue.metadata(task, [:]) { taskLogger[metadataKey: key] = value }
        let context = ActivityContext(
            taskID: task.id, workflowID: task.workflowID, workflowType: task.workflowType, state: task.state, attempt: task.attempt,
            idempotencyKey: task.idempotencyKey, correlationID: task.correlationID, logger: taskLogger)
        switch registry.entry(task.activity) {
        case nil:
            // Claims take only registered activities; a registry never shrinks while running.
            logger.error("claimed a task of an activity this worker lacks", metadata: TaskQueue.metadata(task, [:]))
        case .transactional(let body):
            do {
                try await engine.queue.runTransactionalAttempt(task, body: body, context: context)
            } catch where !Task.isCancelled {
                // Nothing was committed (or the lease is gone): record the failure; the fence decides.
                logger.warning("transactional attempt failed to commit", metadata: TaskQueue.metadata(task, [LogKey.error: "\(String(reflecting: error))"]))
                await completer.submit(task, .failed(ActivityError(code: "activity.transaction_failed", message: "the attempt's transaction did not commit: \(error)")))
            } catch {}
        case .plain(let body):
            let started = ContinuousClock.now
            guard let outcome = await Self.runAttempt(body, input: task.input, context: context, timeout: task.timeout) else { return }
            EngineMetrics.attemptDuration(activity: task.activity, ContinuousClock.now - started)
            // The slot frees once the outcome is queued: the next claim overlaps its commit.
            await completer.hand(task, outcome, snapshot: snapshot)
        }
    }

    /// Runs one attempt under its start-to-close timeout. The attempt ends at the timeout even if
    /// the activity ignores cancellation (it is left to finish unobserved). `nil` when the waiting
    /// task is cancelled (the worker abandons the attempt).
    static func runAttempt(_ body: @escaping ActivityRegistry.Body, input: JSONValue, context: ActivityContext, timeout: Duration) async -> TaskOutcome? {
        let work = Task { () -> TaskOutcome in
            do {
                return .completed(try await body(input, context))
            } catch {
                return .failed(ActivityError(error))
            }
        }
        if let outcome = await Deadline.value(of: work, within: timeout) { return outcome }
        work.cancel()
        return Task.isCancelled ? nil : .failed(TaskQueue.timeoutError(timeout))
    }

    private func heartbeat() async {
        while !Task.isCancelled {
            do {
                try await engine.client.withConnection { connection in
                    try await engine.store.heartbeat(
                        workerID: configuration.id, host: ProcessInfo.processInfo.hostName, pid: Int(getpid()),
                        concurrency: configuration.concurrency, activities: activities, now: engine.clock.now(), on: connection)
                }
            } catch {
                logger.debug("heartbeat failed", metadata: [LogKey.error: "\(String(reflecting: error))"])
            }
            try? await Task.sleep(for: configuration.heartbeatInterval)
        }
    }
}

extension Worker: TaskHandoff {
    /// Lends the slots free now (at most `count`) to the next commit, when nothing is queued for
    /// this worker: a busy worker keeps claiming in batches, oldest first (a lent slot idles while
    /// its batch commits); one with room and an empty queue runs the next step at once.
    func reserveSlots(upTo count: Int) -> EagerDispatch? {
        guard configuration.eagerDispatch, !isStopping, queueDrained.load(ordering: .relaxed) else { return nil }
        let lent = inFlight.withLock { running -> Int in
            let lent = min(max(configuration.concurrency - running, 0), count)
            running += lent
            return lent
        }
        guard lent > 0 else { return nil }
        return EagerDispatch(owner: configuration.id, activities: activitySet, slots: lent, grace: engine.configuration.leaseGrace)
    }

    func handOff(_ dispatch: EagerDispatch, committed: Bool) {
        let leased = dispatch.leased
        inFlight.withLock { $0 -= dispatch.unused + (committed ? 0 : leased.count) }
        if committed && !leased.isEmpty {
            dispatchedCount.withLock { $0 += leased.count }
            for (task, _) in leased { EngineMetrics.attemptStarted(activity: task.activity, path: "dispatched") }
            handedOff.withLock { $0 += leased }
        }
        doorbell.ring()
    }
}
