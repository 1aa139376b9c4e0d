import Logging
import ServiceLifecycle

/// Keeps storage bounded: periodically deletes finished workflows past their retention, with
/// their history, in small batches.
public struct Pruner: Service {
    let engine: Engine
    let interval: Duration

    public init(engine: Engine, interval: Duration = .seconds(60)) {
        self.engine = engine
        self.interval = interval
    }

    public func run() async throws {
        await repeatUntilGracefulShutdown(every: interval, name: "pruner", logger: engine.logger) {
            try await engine.operations.pruneFinishedWorkflows()
        }
    }
}
