/// What an attempt of a task produced.
public enum TaskOutcome: Sendable, Hashable {
    case completed(JSONValue)
    case failed(ActivityError)
}

/// An attempt a worker finished, and what it produced.
public struct FinishedAttempt: Sendable, Hashable {
    public var task: ClaimedTask
    public var outcome: TaskOutcome

    public init(task: ClaimedTask, outcome: TaskOutcome) {
        self.task = task
        self.outcome = outcome
    }
}
