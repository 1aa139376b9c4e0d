import ArgumentParser
import Foundation
import Orchestrator

/// Settings of the engine's worker side.
struct EngineOptions: ParsableArguments {
    @Option(help: "Concurrent tasks per process, 0 for none (env ORCHESTRATOR_WORKERS; default 2 × cores).")
    var workers: Int?

    @Option(help: "Per-activity concurrency limits across all workers, e.g. 'payments.*=4,http=16' (env ORCHESTRATOR_ACTIVITY_LIMITS).")
    var activityLimits: String?

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
        guard let text = lateAfter ?? environment["ORCHESTRATOR_LATE_AFTER"] else { return .seconds(60) }
        guard let duration = Duration(text: text), duration > .zero else {
            throw ValidationError("late-after must be a duration like 60s, got '\(text)'")
        }
        return duration
    }
}
