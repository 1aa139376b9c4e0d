import Metrics
import Orchestrator
import Prometheus
import Synchronization

/// The process's Prometheus registry: swift-metrics reports into it, and each scrape refreshes the
/// gauges that describe the database (queue depth, late tasks, dead letters, live workflows).
final class MetricsRegistry: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let gaugeLabels = Mutex<[String: Set<[Label]>]>([:])

    /// Makes swift-metrics report here; once per process.
    static let shared: MetricsRegistry = {
        let metrics = MetricsRegistry()
        var factory = PrometheusMetricsFactory(registry: metrics.registry)
        factory.defaultDurationHistogramBuckets = [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(30), .seconds(120)]
        MetricsSystem.bootstrap(factory)
        EngineMetrics.prepare()
        return metrics
    }()

    /// The text exposition after refreshing the database gauges from `dashboard`; without one
    /// (the database is away) only `orchestrator_database_up 0` changes, the rest keeps its last values.
    /// `activities` (those of the installed definitions) always have queue series, zero when idle.
    func scrape(_ dashboard: Dashboard?, activities: Set<String>) -> String {
        setGauges("orchestrator_database_up", [([], dashboard == nil ? 0 : 1)])
        guard let dashboard else { return registry.emitToString() }
        let idle = activities.subtracting(dashboard.queues.map(\.activity)).sorted().map {
            Dashboard.Queue(activity: $0, ready: 0, scheduled: 0, running: 0, oldestReadyAgeSeconds: nil)
        }
        let queues = dashboard.queues + idle
        setGauges("orchestrator_queue_ready_tasks", queues.map { ([("activity", $0.activity)], Double($0.ready)) })
        setGauges("orchestrator_queue_running_tasks", queues.map { ([("activity", $0.activity)], Double($0.running)) })
        setGauges("orchestrator_queue_oldest_ready_age_seconds", queues.map { ([("activity", $0.activity)], $0.oldestReadyAgeSeconds ?? 0) })
        let lateByReason = Dictionary(grouping: dashboard.lateTasks, by: \.reason.rawValue)
        setGauges("orchestrator_late_tasks", ["not_started", "running_past_timeout", "lease_expired"].map { ([("reason", $0)], Double(lateByReason[$0]?.count ?? 0)) })
        setGauges("orchestrator_dead_letters_open", dashboard.deadLetterGroups.map { ([("activity", $0.activity), ("error_code", $0.errorCode)], Double($0.open)) })
        setGauges("orchestrator_dead_letters_open_total", [([], Double(dashboard.openDeadLetters))])  // deprecated
        setGauges("orchestrator_workflows_active", dashboard.activeWorkflows.map { ([("type", $0.type), ("status", $0.status)], Double($0.count)) })
        setGauges("orchestrator_workers_live", [([], Double(dashboard.workers.count))])
        setGauges("orchestrator_schedule_late_seconds", dashboard.schedules.map { ([("type", $0.type)], $0.lateBySeconds) })
        return registry.emitToString()
    }

    /// Sets each labelled gauge and zeroes those of label sets that disappeared.
    private func setGauges(_ name: String, _ values: [([(String, String)], Double)]) {
        let current = Set(values.map { $0.0.map(Label.init) })
        let stale = gaugeLabels.withLock { known -> Set<[Label]> in
            defer { known[name, default: []].formUnion(current) }
            return known[name, default: []].subtracting(current)
        }
        for (labels, value) in values { gauge(name, labels).set(to: value) }
        for labels in stale { gauge(name, labels.map { ($0.name, $0.value) }).set(to: 0) }
    }

    private struct Label: Hashable {
        var name: String
        var value: String
        init(_ pair: (String, String)) { (name, value) = pair }
    }

    private func gauge(_ name: String, _ labels: [(String, String)]) -> Prometheus.Gauge {
        registry.makeGauge(
            descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: Self.help[name] ?? name), labels: labels)
    }

    static let help = [
        "orchestrator_queue_ready_tasks": "Tasks due now and waiting for a worker, by activity.",
        "orchestrator_queue_running_tasks": "Tasks running now, by activity.",
        "orchestrator_queue_oldest_ready_age_seconds": "Age of the oldest due task not yet started, by activity.",
        "orchestrator_late_tasks": "Late tasks by reason.",
        "orchestrator_dead_letters_open": "Open dead letters by activity and error code.",
        "orchestrator_dead_letters_open_total": "Deprecated (removed in the next release; a gauge, not a counter): open dead letters; use sum(orchestrator_dead_letters_open).",
        "orchestrator_workflows_active": "Live workflows by type and status.",
        "orchestrator_workers_live": "Workers with a recent heartbeat.",
        "orchestrator_schedule_late_seconds": "How far past its next fire time each schedule is (0 while on time), by workflow type.",
        "orchestrator_database_up": "1 when the database answered this scrape's queries, 0 when it is unreachable.",
    ]
}
