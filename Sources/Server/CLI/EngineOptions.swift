import ArgumentParser
import Foundation
import Orchestrator

/// Settings of the engine's worker side.
struct EngineOptions: ParsableArguments {
    @Option(help: "Concurrent tasks per process, 0 for none (env ORCHESTRATOR_WORKERS; default 2 × cores).")
    var workers: Int?

    @Option(help: "Per-activity concurrency limits to store in the database for all workers, e.g. 'payments.*=4,http=16' (env ORCHESTRATOR_ACTIVITY_LIMITS); see `orchestrator limits`.")
    var activityLimits: String?

    @Option(help: "On SIGTERM, how long running tasks may take to finish before they are released, e.g. 30s (env ORCHESTRATOR_SHUTDOWN_GRACE).")
    var shutdownGrace: String?

    @Option(help: "A ready task not started within this is late, e.g. 60s (env ORCHESTRATOR_LATE_AFTER).")
    var lateAfter: String?

    @Option(help: "Items one map (or for_each) state may fan out to; a start or a state over more is refused (env ORCHESTRATOR_MAX_MAP_ITEMS; default 10000).")
    var maxMapItems: Int?

    @Option(help: "Signals one workflow may hold buffered before it waits for them; more are refused with 409 (env ORCHESTRATOR_MAX_BUFFERED_SIGNALS; default 1000).")
    var maxBufferedSignals: Int?

    @Option(help: "Events one workflow may record; one that reaches it fails with workflow.history_full (env ORCHESTRATOR_MAX_EVENTS_PER_WORKFLOW; default 100000).")
    var maxEventsPerWorkflow: Int?

    @Option(help: "How long finished workflows and their history are kept before they are deleted, e.g. 30d (env ORCHESTRATOR_RETENTION; a workflow file's retention wins).")
    var retention: String?

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// The engine's limits from the options and the environment, over `configuration`.
    func applyLimits(to configuration: inout Engine.Configuration) throws {
        configuration.maxMapItems = try Self.count(maxMapItems, environment["ORCHESTRATOR_MAX_MAP_ITEMS"], named: "max-map-items", default: configuration.maxMapItems)
        configuration.maxBufferedSignals = try Self.count(
            maxBufferedSignals, environment["ORCHESTRATOR_MAX_BUFFERED_SIGNALS"], named: "max-buffered-signals", default: configuration.maxBufferedSignals)
        configuration.maxEventsPerWorkflow = try Self.count(
            maxEventsPerWorkflow, environment["ORCHESTRATOR_MAX_EVENTS_PER_WORKFLOW"], named: "max-events-per-workflow", default: configuration.maxEventsPerWorkflow)
        configuration.retention = try Self.duration(retention ?? environment["ORCHESTRATOR_RETENTION"], named: "retention", default: configuration.retention)
    }

    static func count(_ option: Int?, _ text: String?, named name: String, default value: Int) throws -> Int {
        let count: Int
        if let option {
            count = option
        } else if let text {
            guard let parsed = Int(text) else { throw ValidationError("\(name) must be a whole number, got '\(text)'") }
            count = parsed
        } else {
            return value
        }
        guard (1...1_000_000).contains(count) else { throw ValidationError("\(name) must be between 1 and 1000000, got \(count)") }
        return count
    }

    func workerCount() throws -> Int {
        if let workers { return try Self.checkWorkers(workers) }
        if let text = environment["ORCHESTRATOR_WORKERS"] {
            guard let value = Int(text) else { throw ValidationError("ORCHESTRATOR_WORKERS must be a number, got '\(text)'") }
            return try Self.checkWorkers(value)
        }
        return 2 * ProcessInfo.processInfo.activeProcessorCount
    }

    private static func checkWorkers(_ value: Int) throws -> Int {
        guard (0...10_000).contains(value) else { throw ValidationError("workers must be between 0 and 10000, got \(value)") }
        return value
    }

    func parsedActivityLimits() throws -> [ActivityLimit] {
        guard let text = activityLimits ?? environment["ORCHESTRATOR_ACTIVITY_LIMITS"], !text.isEmpty else { return [] }
        return try ActivityLimit.parseList(text)
    }

    func parsedLateAfter() throws -> Duration {
        try Self.lateAfter(lateAfter, environment: environment)
    }

    /// The late threshold from a `--late-after` flag, else `ORCHESTRATOR_LATE_AFTER`, else 60 s
    /// (`serve`, `worker` and `late` share it).
    static func lateAfter(_ option: String?, environment: [String: String]) throws -> Duration {
        try duration(option ?? environment["ORCHESTRATOR_LATE_AFTER"], named: "late-after", default: .seconds(60))
    }

    func parsedShutdownGrace() throws -> Duration {
        try Self.duration(shutdownGrace ?? environment["ORCHESTRATOR_SHUTDOWN_GRACE"], named: "shutdown-grace", default: .seconds(30))
    }

    static func duration(_ text: String?, named name: String, default value: Duration) throws -> Duration {
        guard let text else { return value }
        guard let duration = Duration(text: text), duration > .zero else {
            throw ValidationError("\(name) must be a duration like 30s, got '\(text)'")
        }
        return duration
    }
}
