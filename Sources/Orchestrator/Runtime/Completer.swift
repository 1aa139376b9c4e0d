import Logging
import PostgresNIO
import Synchronization

/// Commits the outcomes of finished attempts, many per transaction when many finish together
/// (group commit), locking their workflows in one global order (by id) so two completers never
/// deadlock.
///
/// An outcome is kept until it is committed, or its commit proves the lease gone (fenced): while
/// the database is away the batch waits and is tried again with backoff; an outcome whose own
/// commit fails is set aside and retried with backoff while the others go on.
final class Completer: Sendable {
    private struct Pending: Sendable {
        var task: ClaimedTask
        var outcome: TaskOutcome
        /// The instance as the attempt's lease found it: when present, the outcome is first
        /// concluded from it in one statement (`TaskQueue.concludeAtOnce`).
        var snapshot: InstanceSnapshot?
        /// Resumed with `true` once committed, `false` if the completer stopped first; `nil` for
        /// an outcome handed over without waiting (`hand`).
        var continuation: CheckedContinuation<Bool, Never>?
        var failures = 0
        var notBefore = ContinuousClock.now
    }

    private struct Queue {
        var pending: [Pending] = []
        /// `run()` was cancelled: commit what is pending, then stop.
        var finishing = false
        var stopped = false
        /// Once shutting down, pending outcomes are given up at this instant.
        var drainDeadline: ContinuousClock.Instant?
        /// The lanes that found nothing to commit and wait (their indexes): a queued outcome
        /// wakes one of them; a lane still committing takes it when it next looks.
        var idleLanes: [Int] = []
    }

    private let engine: Engine
    private let logger: Logger
    /// The worker that runs at once what these completions enqueue (eager dispatch), if any.
    private let handoff: (any TaskHandoff)?
    private let queue = Mutex(Queue())
    private let snapshotConclusions = Mutex(0)
    /// One per commit lane: batches commit on `lanes` connections at once.
    private let doorbells: [Doorbell]
    /// Outcomes `hand` queues before it waits for a commit (see `Worker.Configuration.completionBacklog`).
    private let backlog: Int
    static let maxBatch = 200

    init(engine: Engine, handoff: (any TaskHandoff)? = nil, lanes: Int = 1, backlog: Int = maxBatch, logger: Logger) {
        self.engine = engine
        self.handoff = handoff
        self.doorbells = (0..<max(lanes, 1)).map { _ in Doorbell() }
        self.backlog = backlog
        self.logger = logger
    }

    /// Hands an outcome over; returns `true` once it is committed (fenced counts: the lease was
    /// provably gone), `false` if the completer stopped before it could be.
    @discardableResult
    func submit(_ task: ClaimedTask, _ outcome: TaskOutcome, snapshot: InstanceSnapshot? = nil) async -> Bool {
        await withCheckedContinuation { continuation in
            if !enqueue(Pending(task: task, outcome: outcome, snapshot: snapshot, continuation: continuation)) { continuation.resume(returning: false) }
        }
    }

    /// How many outcomes were concluded from their snapshots.
    var concludedFromSnapshots: Int { snapshotConclusions.withLock { $0 } }

    /// Hands an outcome over without waiting for its commit, so the attempt's slot frees at once
    /// and the next claim overlaps this commit — while fewer than `backlog` outcomes wait; past
    /// that, waits for this one's commit (backpressure). A handed outcome is committed like a
    /// submitted one (kept until committed or fenced, or given up at the drain deadline).
    func hand(_ task: ClaimedTask, _ outcome: TaskOutcome, snapshot: InstanceSnapshot? = nil) async {
        if !enqueue(Pending(task: task, outcome: outcome, snapshot: snapshot, continuation: nil), unlessWaiting: backlog) {
            await submit(task, outcome, snapshot: snapshot)
        }
    }

    /// Queues an outcome and wakes an idle lane, if any; `false` when the completer has stopped,
    /// or when `unlessWaiting` outcomes wait already.
    private func enqueue(_ item: Pending, unlessWaiting limit: Int = .max) -> Bool {
        let (queued, idleLane) = queue.withLock { queue -> (Bool, Int?) in
            guard !queue.stopped, queue.pending.count < limit else { return (false, nil) }
            queue.pending.append(item)
            return (true, queue.idleLanes.popLast())
        }
        if let idleLane { doorbells[idleLane].ring() }
        return queued
    }

    /// After cancellation, `run()` gives up what is still pending at `deadline`.
    func drain(until deadline: ContinuousClock.Instant) {
        queue.withLock { $0.drainDeadline = deadline }
    }

    /// Commits until cancelled, then until nothing is pending or the drain deadline has passed.
    /// Each lane takes what is pending as one batch; batches lock their workflows in the same
    /// order (by id), so lanes wait for each other but never deadlock.
    ///
    /// The lanes run in a task of their own: cancelling `run()` tells them to finish, it does not
    /// cancel their commits (in a cancelled task every statement would fail at once).
    func run() async {
        let lanes = Task {
            await withTaskGroup(of: Void.self) { lanes in
                for lane in doorbells.indices { lanes.addTask { await self.commitLoop(lane: lane) } }
            }
        }
        await withTaskCancellationHandler {
            await lanes.value
        } onCancel: {
            queue.withLock { $0.finishing = true }
            for doorbell in doorbells { doorbell.ring() }
        }
        abandonPending()
    }

    private func commitLoop(lane: Int) async {
        while true {
            let now = ContinuousClock.now
            let (batch, nextDue, done) = queue.withLock { queue -> ([Pending], ContinuousClock.Instant?, Bool) in
                queue.idleLanes.removeAll { $0 == lane }
                if queue.finishing, queue.pending.isEmpty || queue.drainDeadline.map({ now >= $0 }) == true {
                    queue.stopped = true
                    return ([], nil, true)
                }
                var batch: [Pending] = []
                var waiting: [Pending] = []
                for item in queue.pending {
                    if item.notBefore <= now && batch.count < Self.maxBatch { batch.append(item) } else { waiting.append(item) }
                }
                queue.pending = waiting
                if batch.isEmpty { queue.idleLanes.append(lane) }
                return (batch, waiting.map(\.notBefore).min(), false)
            }
            if done { return }
            if batch.isEmpty {
                // Nothing due: wait for a ring (an outcome queued, `run()` finishing) or, when outcomes
                // are set aside, for the first to fall due (at most 1 s); with none, no timer.
                await doorbells[lane].wait(timeout: nextDue.map { min($0 - now, .seconds(1)) })
                continue
            }
            await commit(batch)
        }
    }

    private func abandonPending() {
        let abandoned = queue.withLock { queue in
            defer { queue.pending = [] }
            return queue.pending
        }
        if !abandoned.isEmpty {
            logger.warning("completer stopped with outcomes not committed; their leases will expire", metadata: ["outcomes": "\(abandoned.count)"])
        }
        for item in abandoned { item.continuation?.resume(returning: false) }
    }

    /// Commits a batch: first, in one statement, the completions decided from the snapshots of
    /// their instances (`commitAtOnce`); then the others, and those whose instance changed
    /// meanwhile, in a transaction that locks their instances.
    private func commit(_ batch: [Pending]) async {
        var ordered = batch.sorted { ($0.task.workflowID, $0.task.id) < ($1.task.workflowID, $1.task.id) }
        let known = ordered.compactMap { item in item.snapshot.map { (item: item, snapshot: $0) } }
        if !known.isEmpty {
            let concluded = await commitAtOnce(known)
            // The others go the locking way, now and if they are tried again: their snapshots are spent.
            ordered = ordered.compactMap { item in
                guard !concluded.contains(item.task.attemptID) else { return nil }
                var item = item
                item.snapshot = nil
                return item
            }
            if ordered.isEmpty { return }
        }
        let dispatch = handoff?.reserveSlots(upTo: ordered.count)
        do {
            try await engine.transaction { connection in
                _ = try await engine.queue.conclude(ordered.map { FinishedAttempt(task: $0.task, outcome: $0.outcome) }, dispatch: dispatch, on: connection)
            }
            if let dispatch { handoff?.handOff(dispatch, committed: true) }
            for item in ordered { item.continuation?.resume(returning: true) }
        } catch {
            if let dispatch { handoff?.handOff(dispatch, committed: false) }
            await recover(from: error, committing: ordered)
        }
    }

    /// Concludes at once the outcomes whose instance has a snapshot; returns those concluded (none
    /// when the statement failed): the locking path concludes the others.
    private func commitAtOnce(_ known: [(item: Pending, snapshot: InstanceSnapshot)]) async -> Set<AttemptID> {
        let dispatch = handoff?.reserveSlots(upTo: known.count)
        do {
            let concluded = try await engine.client.withConnection { connection in
                try await engine.queue.concludeAtOnce(
                    known.map { (FinishedAttempt(task: $0.item.task, outcome: $0.item.outcome), $0.snapshot) }, dispatch: dispatch, on: connection)
            }
            if let dispatch { handoff?.handOff(dispatch, committed: true) }
            snapshotConclusions.withLock { $0 += concluded.count }
            for (item, _) in known where concluded.contains(item.task.attemptID) { item.continuation?.resume(returning: true) }
            return concluded
        } catch {
            if let dispatch { handoff?.handOff(dispatch, committed: false) }
            logger.debug("completions from snapshots failed, concluding them with locks", metadata: [LogKey.error: "\(String(reflecting: error))"])
            return []
        }
    }

    /// A batch did not commit: when one outcome broke it, commit each alone so the others are not
    /// held back; otherwise (the database is away) try them all again after a backoff.
    private func recover(from error: any Error, committing ordered: [Pending]) async {
        if ordered.count > 1 && Self.isAboutTheItems(error) {
            EngineMetrics.completionFailed(kind: "batch_split")
            logger.warning("completion batch failed, committing its outcomes one by one", metadata: [
                LogKey.error: "\(String(reflecting: error))", "outcomes": "\(ordered.count)",
            ])
            for item in ordered { await commit([item]) }
        } else {
            EngineMetrics.completionFailed(kind: "retrying")
            logger.warning("completion failed, will retry", metadata: [
                LogKey.error: "\(String(reflecting: error))", "outcomes": "\(ordered.count)", "failures": "\(ordered[0].failures + 1)",
            ])
            setAside(ordered)
        }
    }

    /// Puts failed outcomes back, due again after a backoff that grows with their failures.
    private func setAside(_ items: [Pending]) {
        let now = ContinuousClock.now
        queue.withLock { queue in
            for var item in items {
                item.failures += 1
                item.notBefore = now + Backoff.delay(afterFailures: item.failures, base: .milliseconds(100))
                queue.pending.append(item)
            }
        }
    }

    /// An error the server reported about a statement (a constraint, a lock timeout, a deadlock)
    /// may come from one outcome; any other (connection lost, database away) concerns them all.
    private static func isAboutTheItems(_ error: any Error) -> Bool {
        !DatabasePool.isUnavailability(error)
    }
}

extension ActivityError {
    /// Wraps any error an activity threw; unknown errors are retryable.
    init(_ error: any Error) {
        if let error = error as? ActivityError {
            self = error
        } else if let error = error as? OrchestratorError {
            self = ActivityError(code: error.code.rawValue, message: error.message)
        } else if error is CancellationError {
            self = ActivityError(code: "cancelled", message: "the attempt was cancelled")
        } else {
            self = ActivityError(code: "activity.error", message: String(describing: error))
        }
    }
}
