import Foundation

/// How an attempt ends, decided before anything is written (a value: the store applies it). The
/// retry decision lives here: a failure runs again while its task's policy allows, otherwise the
/// workflow's catch or a dead letter takes over.
enum AttemptVerdict: Sendable, Hashable {
    case completed(JSONValue)
    /// Runs again at `at`, `after` from now.
    case retry(ActivityError, at: Date, after: Duration)
    /// No attempt left, or the error is not retryable.
    case exhausted(ActivityError)

    /// The verdict on `outcome` for attempt `attempt` under `policy`. A result that cannot be
    /// stored fails the attempt for good; a retry waits for the error's `retryAfter`, or else the
    /// policy's jittered backoff drawn from `generator`.
    static func of(
        _ outcome: TaskOutcome, attempt: Int, policy: RetryPolicy, now: Date, using generator: inout some RandomNumberGenerator
    ) -> AttemptVerdict {
        switch outcome {
        case .completed(let result):
            if let problem = TaskQueue.unstorable(result) { return .exhausted(.nonRetryable("activity.invalid_output", problem)) }
            return .completed(result)
        case .failed(let error):
            guard policy.allowsRetry(code: error.code, retryable: error.retryable, attempt: attempt) else { return .exhausted(error) }
            let delay = error.retryAfter ?? policy.delay(afterAttempt: attempt, using: &generator)
            return .retry(error, at: now.addingTimeInterval(delay.seconds), after: delay)
        }
    }

    /// The task's status once the verdict is applied.
    var taskStatus: TaskStatus {
        switch self {
        case .completed: .completed
        case .retry: .failed
        case .exhausted: .dead
        }
    }

    var error: ActivityError? {
        switch self {
        case .completed: nil
        case .retry(let error, _, _), .exhausted(let error): error
        }
    }
}
