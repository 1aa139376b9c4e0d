import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The process's one `LISTEN` connection: it listens on every channel it was made for and hands
/// each notification's payload to that channel's subscribers (the worker's wake-ups, the watcher's
/// waiters). When the connection drops it reconnects with backoff; after every (re)connection
/// each subscriber's `connected` runs, because notifications sent while it was away are lost and
/// whoever relies on them must check again.
public final class NotificationListener: Service {
    private struct Subscriber {
        var channel: String
        var connected: @Sendable () -> Void
        var receive: @Sendable (String) -> Void
    }

    let channels: [String]
    let database: DatabaseConfiguration
    let logger: Logger
    private let subscribers = Mutex<(next: Int, all: [Int: Subscriber])>((0, [:]))

    /// Listens on `channels`: the queue's (`WorkflowStore.taskChannel`) where a worker runs, the
    /// workflow watcher's (`WorkflowWatcher.channel`) where callers wait for results.
    public init(channels: [String], database: DatabaseConfiguration, logger: Logger) {
        self.channels = channels
        self.database = database
        self.logger = logger
    }

    /// Registers handlers for `channel` (one of `channels`); returns the token `unsubscribe` takes.
    func subscribe(_ channel: String, connected: @escaping @Sendable () -> Void, receive: @escaping @Sendable (String) -> Void) -> Int {
        precondition(channels.contains(channel), "not listening on \(channel)")
        return subscribers.withLock { subscribers in
            subscribers.next += 1
            subscribers.all[subscribers.next] = Subscriber(channel: channel, connected: connected, receive: receive)
            return subscribers.next
        }
    }

    func unsubscribe(_ token: Int) {
        subscribers.withLock { _ = $0.all.removeValue(forKey: token) }
    }

    private func handlers(of channel: String) -> [Subscriber] {
        subscribers.withLock { $0.all.values.filter { $0.channel == channel } }
    }

    /// Listens until cancelled or, as a service, until graceful shutdown.
    public func run() async {
        await cancelWhenGracefulShutdown { await self.listen() }
    }

    private func listen() async {
        var failures = 0
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(
                    configuration: database.connectionConfiguration(), id: 1, logger: logger)
                defer { Task { try? await connection.close() } }
                failures = 0
                // One LISTEN per channel on the one connection; the first to end (the connection
                // dropped) ends them all, and the loop reconnects.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for channel in channels {
                        group.addTask {
                            try await connection.listen(on: channel) { notifications in
                                for subscriber in self.handlers(of: channel) { subscriber.connected() }
                                for try await notification in notifications {
                                    for subscriber in self.handlers(of: channel) { subscriber.receive(notification.payload) }
                                }
                            }
                        }
                    }
                    try await group.next()
                    group.cancelAll()
                }
            } catch {
                if Task.isCancelled { return }
                failures += 1
                logger.debug("listen connection failed", metadata: [LogKey.error: "\(String(reflecting: error))", LogKey.channel: "\(channels.joined(separator: ","))"])
            }
            try? await Task.sleep(for: Backoff.delay(afterFailures: failures, base: .milliseconds(200)))
        }
    }
}
