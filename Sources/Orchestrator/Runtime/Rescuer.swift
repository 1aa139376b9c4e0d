import Logging
import ServiceLifecycle

/// Periodically returns tasks whose lease expired (a crashed or hung worker) to the queue.
public struct Rescuer: Service {
    let engine: Engine
    let interval: Duration

    public init(engine: Engine, interval: Duration = .seconds(2)) {
        self.engine = engine
        self.interval = interval
    }

    public func run() async throws {
        await engine.repeatUntilShutdown(every: interval, name: "rescuer") {
            try await engine.rescueExpiredLeases()
        }
    }
}

extension Engine {
    /// Runs `pass` every `interval` until graceful shutdown; a failed pass is logged and retried
    /// at the next interval (the database may be away for a while).
    func repeatUntilShutdown(every interval: Duration, name: String, _ pass: @escaping @Sendable () async throws -> Void) async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await pass()
                } catch {
                    self.logger.warning("\(name) pass failed", metadata: [LogKey.error: "\(String(reflecting: error))"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
