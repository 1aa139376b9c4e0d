import Logging
import ServiceLifecycle

/// The loop of the periodic services (rescuer, scheduler, clock synchronization): runs `pass`
/// every `interval` until graceful shutdown; a failed pass is logged at `failureLevel` and tried
/// again at the next interval (the database may be away for a while).
func repeatUntilGracefulShutdown(
    every interval: Duration, name: String, logger: Logger, failureLevel: Logger.Level = .warning,
    _ pass: @escaping @Sendable () async throws -> Void
) async {
    await cancelWhenGracefulShutdown {
        while !Task.isCancelled {
            do {
                try await pass()
            } catch {
                logger.log(level: failureLevel, "\(name) pass failed", metadata: [LogKey.error: "\(String(reflecting: error))"])
            }
            try? await Task.sleep(for: interval)
        }
    }
}
