import Foundation

/// What the database knows about one task and what could hold it back: read in one query by
/// `WorkflowStore.taskFacts`, judged by `TaskDelayCause.decide`.
public struct TaskFacts: Sendable, Hashable {
    public var taskID: Int64
    /// `activity`, or an engine task: `timer`, `child_result`, `signal` (any worker runs those).
    public var kind: String
    public var activity: String
    public var status: TaskStatus
    public var runAt: Date
    public var startedAt: Date?
    public var timeoutSeconds: Double
    public var leaseOwner: String?
    /// Seconds since the lease owner's last heartbeat; `nil` when no such worker is known.
    public var ownerSilentSeconds: Double?
    public var lastError: AttemptError?
    /// Workers with a recent heartbeat, and those of them that run this activity.
    public var liveWorkers: Int
    public var liveWorkersForActivity: Int
    /// The activity limit the task counts against, if any.
    public var limit: ActivityLimitUse?
    /// Due tasks of the same activity ahead of it in the queue, counted up to `olderDueTasksCap`
    /// (each late task on the dashboard counts its own: the cap bounds that work).
    public var olderDueTasks: Int
    public static let olderDueTasksCap = 1000

    public struct ActivityLimitUse: Sendable, Hashable {
        public var pattern: String
        public var maxRunning: Int
        public var running: Int
    }
}

/// Why a task has not run, or not finished, yet: the first cause that applies, as a value.
public enum TaskDelayCause: Sendable, Hashable {
    /// No live worker runs its activity (or no worker is live at all).
    case noLiveWorker(activity: String, anyLiveWorker: Bool)
    /// Its activity limit is full: `running` of `maxRunning` run now.
    case atActivityLimit(pattern: String, running: Int, maxRunning: Int)
    /// It failed and retries at `until`; `lastError` says why.
    case waitingForRetry(until: Date, lastError: AttemptError?)
    /// A timer (a `sleep`, a `wait_for`'s timeout) not due before `until`.
    case timerNotDue(until: Date)
    /// Due, but `olderTasks` due tasks of its activity are ahead of it (0: next in line, workers busy).
    case queuedBehind(olderTasks: Int)
    /// Running, but its worker has not been heard from for `silentForSeconds` (`nil`: never):
    /// the rescuer takes the lease back when it expires.
    case leaseHeldBySilentWorker(worker: String, silentForSeconds: Double?)
    /// Running longer than its timeout on a live worker.
    case runningPastTimeout(worker: String, runningForSeconds: Double, timeoutSeconds: Double)
    /// Running on a live worker, within its timeout.
    case running(worker: String, forSeconds: Double)
    /// Not waiting at all: completed, dead-lettered or cancelled.
    case notWaiting(TaskStatus)

    /// A worker silent this long is taken for gone.
    public static let silentAfterSeconds: Double = 30

    public static func decide(_ facts: TaskFacts, now: Date) -> TaskDelayCause {
        switch facts.status {
        case .completed, .dead, .cancelled:
            return .notWaiting(facts.status)
        case .running:
            let owner = facts.leaseOwner ?? "unknown"
            if facts.ownerSilentSeconds.map({ $0 > silentAfterSeconds }) ?? true {
                return .leaseHeldBySilentWorker(worker: owner, silentForSeconds: facts.ownerSilentSeconds)
            }
            let runningFor = now.timeIntervalSince(facts.startedAt ?? now)
            if runningFor > facts.timeoutSeconds {
                return .runningPastTimeout(worker: owner, runningForSeconds: runningFor, timeoutSeconds: facts.timeoutSeconds)
            }
            return .running(worker: owner, forSeconds: runningFor)
        case .ready, .failed:
            if facts.runAt > now {
                return facts.kind == "activity" ? .waitingForRetry(until: facts.runAt, lastError: facts.lastError) : .timerNotDue(until: facts.runAt)
            }
            let able = facts.kind == "activity" ? facts.liveWorkersForActivity : facts.liveWorkers
            if able == 0 { return .noLiveWorker(activity: facts.activity, anyLiveWorker: facts.liveWorkers > 0) }
            if let limit = facts.limit, limit.running >= limit.maxRunning {
                return .atActivityLimit(pattern: limit.pattern, running: limit.running, maxRunning: limit.maxRunning)
            }
            return .queuedBehind(olderTasks: facts.olderDueTasks)
        }
    }

    /// A stable code per case, for machines and filters.
    public var code: String {
        switch self {
        case .noLiveWorker: "no_live_worker"
        case .atActivityLimit: "at_activity_limit"
        case .waitingForRetry: "waiting_for_retry"
        case .timerNotDue: "timer_not_due"
        case .queuedBehind: "queued_behind"
        case .leaseHeldBySilentWorker: "lease_held_by_silent_worker"
        case .runningPastTimeout: "running_past_timeout"
        case .running: "running"
        case .notWaiting: "not_waiting"
        }
    }

    /// The cause in a sentence, for people.
    public var message: String {
        let time = Date.ISO8601FormatStyle()
        switch self {
        case .noLiveWorker(let activity, let anyLiveWorker):
            return anyLiveWorker ? "no live worker runs the activity \(activity)" : "no worker is live: start `orchestrator serve` or `orchestrator worker`"
        case .atActivityLimit(let pattern, let running, let maxRunning):
            return "the activity limit \(pattern) is full: \(running) of \(maxRunning) running"
        case .waitingForRetry(let until, let lastError):
            return "waiting to retry until \(time.format(until))" + (lastError.map { " after \($0.code): \($0.message)" } ?? "")
        case .timerNotDue(let until):
            return "a timer, not due until \(time.format(until))"
        case .queuedBehind(let older):
            let count = older >= TaskFacts.olderDueTasksCap ? "\(TaskFacts.olderDueTasksCap) or more" : "\(older)"
            return older == 0 ? "next in line; every worker slot is busy" : "queued behind \(count) older due tasks of its activity"
        case .leaseHeldBySilentWorker(let worker, let silent):
            return "its worker \(worker) " + (silent.map { "has not been heard from for \(Int($0)) s" } ?? "is unknown") + "; the rescuer takes it back when its lease expires"
        case .runningPastTimeout(let worker, let runningFor, let timeout):
            return "running on \(worker) for \(Int(runningFor)) s, past its \(Int(timeout)) s timeout"
        case .running(let worker, let runningFor):
            return "running on \(worker) for \(Int(runningFor)) s"
        case .notWaiting(let status):
            return "not waiting: \(status.rawValue)"
        }
    }
}
