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

    var environment: [String: String] { ProcessInfo.processInfo.environment }

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
        try Self.duration(lateAfter ?? environment["ORCHESTRATOR_LATE_AFTER"], named: "late-after", default: .seconds(60))
    }

    func parsedShutdownGrace() throws -> Duration {
        try Self.duration(shutdownGrace ?? environment["ORCHESTRATOR_SHUTDOWN_GRACE"], named: "shutdown-grace", default: .seconds(30))
    }

    private static func duration(_ text: String?, named name: String, default value: Duration) throws -> Duration {
        guard let text else { return value }
        guard let duration = Duration(text: text), duration > .zero else {
            throw ValidationError("\(name) must be a duration like 30s, got '\(text)'")
        }
        return duration
    }
}
