import Logging
import ServiceLifecycle

/// Starts scheduled workflows when their cron fires; safe to run in any number of processes.
public struct Scheduler: Service {
    let engine: Engine
    let interval: Duration

    public init(engine: Engine, interval: Duration = .seconds(5)) {
        self.engine = engine
        self.interval = interval
    }

    public func run() async throws {
        await repeatUntilGracefulShutdown(every: interval, name: "scheduler", logger: engine.logger) {
            for workflow in try await engine.lifecycle.fireDueSchedules() {
                engine.logger.info("scheduled workflow started", metadata: [LogKey.workflowID: "\(workflow.id)", LogKey.workflowType: "\(workflow.type)"])
            }
        }
    }
}
