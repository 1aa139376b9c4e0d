import Metrics

/// The engine's swift-metrics instruments. Labels carry types, activities and outcomes, never ids.
public enum EngineMetrics {
    static func workflowStarted(type: String) {
        Counter(label: "orchestrator_workflows_started_total", dimensions: [("type", type)]).increment()
    }

    static func workflowEnded(type: String, status: WorkflowStatus) {
        Counter(label: "orchestrator_workflows_ended_total", dimensions: [("type", type), ("status", status.rawValue)]).increment()
    }

    /// One attempt's outcome: `completed`, `retried`, `caught`, `dead_lettered` or `lease_lost`.
    static func attemptEnded(activity: String, outcome: String) {
        Counter(label: "orchestrator_tasks_total", dimensions: [("activity", activity), ("outcome", outcome)]).increment()
    }

    /// An attempt started: `claimed` from the queue, or `dispatched` by the completion that
    /// enqueued it (eager dispatch).
    static func attemptStarted(activity: String, path: String) {
        Counter(label: "orchestrator_task_starts_total", dimensions: [("activity", activity), ("path", path)]).increment()
    }

    /// Attempts whose end was written: `snapshot` in one statement decided from the instance the
    /// worker knew (`TaskQueue.concludeAtOnce`), `locked` in a transaction that locked it first.
    static func attemptsConcluded(_ count: Int, path: String) {
        guard count > 0 else { return }
        Counter(label: "orchestrator_task_conclusions_total", dimensions: [("path", path)]).increment(by: count)
    }

    /// How long a due task waited for a worker.
    static func scheduleToStart(activity: String, seconds: Double) {
        Timer(label: "orchestrator_task_schedule_to_start_seconds", dimensions: [("activity", activity)])
            .recordNanoseconds(Int64(max(seconds, 0) * 1e9))
    }

    /// The database's connection pool was replaced (`DatabasePool`): its circuit breaker was open
    /// while the database answered.
    static func poolReplaced() {
        Counter(label: poolReplacements).increment()
    }

    static let poolReplacements = "orchestrator_database_pool_replacements_total"

    static let completionErrors = "orchestrator_completion_errors_total"

    /// Creates the series alerts rely on before their first event, so `/metrics` shows them at 0
    /// (a rate over a series that does not exist yet is no rate at all).
    public static func prepare() {
        for kind in ["batch_split", "retrying"] {
            Counter(label: completionErrors, dimensions: [("kind", kind)]).increment(by: 0)
        }
        Counter(label: poolReplacements).increment(by: 0)
    }

    /// A batch of outcomes the completer could not commit (it retries them): `batch_split` when
    /// one outcome broke a batch, `retrying` when the commit failed.
    static func completionFailed(kind: String) {
        Counter(label: completionErrors, dimensions: [("kind", kind)]).increment()
    }

    static func attemptDuration(activity: String, _ duration: Duration) {
        Timer(label: "orchestrator_task_duration_seconds", dimensions: [("activity", activity)]).recordNanoseconds(
            duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }
}
