import Foundation
import Synchronization

/// Free slots a worker offers to the completions it commits: a task such a completion enqueues —
/// due now, of an activity the worker runs, outside every activity limit — is inserted already
/// leased to the worker (its first attempt, as a claim would make it) and run at once, with no
/// claim statement, no commit of its own and no wake-up round trip. Used by one transaction at a
/// time; what it took is `leased` once that transaction has committed.
public final class EagerDispatch: Sendable {
    public let owner: String
    public let activities: Set<String>
    /// Added to a task's timeout for its lease, as a claim does.
    public let grace: Duration
    private let state: Mutex<(slots: Int, leased: [(task: ClaimedTask, snapshot: InstanceSnapshot)])>

    public init(owner: String, activities: Set<String>, slots: Int, grace: Duration) {
        self.owner = owner
        self.activities = activities
        self.grace = grace
        self.state = Mutex((max(slots, 0), []))
    }

    /// The tasks leased so far (valid once the transaction that leased them committed), each with
    /// its instance as the leasing transition left it.
    var leased: [(task: ClaimedTask, snapshot: InstanceSnapshot)] { state.withLock { $0.leased } }

    /// Slots not used.
    public var unused: Int { state.withLock { $0.slots } }

    /// Which of `tasks` to lease now (a decision: the store applies it): those due by `now` and of an
    /// activity this worker runs, while slots last. A task under an activity limit stays queued
    /// (the store checks the limit; the slot is given back then).
    func candidates(_ tasks: [NewTask], now: Date) -> [Bool] {
        state.withLock { state in
            tasks.map { task in
                guard state.slots > 0, task.kind == .activity, task.runAt <= now, activities.contains(task.activity) else { return false }
                state.slots -= 1
                return true
            }
        }
    }

    /// Records what the store leased, with the instances it left, and gives back the slots of
    /// candidates it did not lease.
    func accept(leased: [(task: ClaimedTask, snapshot: InstanceSnapshot)], offered: Int) {
        state.withLock { state in
            state.leased += leased
            state.slots += offered - leased.count
        }
    }
}
