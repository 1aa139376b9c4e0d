import Logging
import ServiceLifecycle

/// Periodically returns tasks whose lease expired (a crashed or hung worker) to the queue, and
/// forgets workers silent for a day.
public struct Rescuer: Service {
    let engine: Engine
    let interval: Duration

    public init(engine: Engine, interval: Duration = .seconds(2)) {
        self.engine = engine
        self.interval = interval
    }

    public func run() async throws {
        await repeatUntilGracefulShutdown(every: interval, name: "rescuer", logger: engine.logger) {
            try await engine.queue.rescueExpiredLeases()
            try await engine.operations.forgetSilentWorkers()
        }
    }
}
