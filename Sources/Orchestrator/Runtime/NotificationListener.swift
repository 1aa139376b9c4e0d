import Logging
import PostgresNIO

/// Keeps one `LISTEN` connection open on a channel and hands every notification's payload to
/// `receive`; when the connection drops it reconnects with backoff. `connected` runs after every
/// (re)connection: notifications sent while it was away are lost, so whoever relies on them checks
/// again then.
struct NotificationListener: Sendable {
    let channel: String
    let database: DatabaseConfiguration
    let logger: Logger

    func run(connected: @escaping @Sendable () -> Void, receive: @escaping @Sendable (String) -> Void) async {
        var failures = 0
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(
                    configuration: database.connectionConfiguration(), id: 1, logger: logger)
                defer { Task { try? await connection.close() } }
                try await connection.listen(on: channel) { notifications in
                    failures = 0
                    connected()
                    for try await notification in notifications { receive(notification.payload) }
                }
            } catch {
                if Task.isCancelled { return }
                failures += 1
                logger.debug("listen connection failed", metadata: [LogKey.error: "\(String(reflecting: error))", LogKey.channel: "\(channel)"])
            }
            try? await Task.sleep(for: Backoff.delay(afterFailures: failures, base: .milliseconds(200)))
        }
    }
}
