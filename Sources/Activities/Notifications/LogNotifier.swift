import Logging
import Orchestrator

/// The stand-in when a provider has no credentials (the README's run command): the message is
/// written to the log, and recorded like a sent one, so every path can be walked locally.
public struct LogNotifier: Notifier {
    public let channel: NotificationChannel
    public let provider = "log"

    public init(channel: NotificationChannel) {
        self.channel = channel
    }

    public func send(_ message: OutgoingMessage, idempotencyKey: String, logger: Logger) async throws -> String {
        logger.notice("\(channel.rawValue) not sent (no provider configured)", metadata: [
            "to": "\(message.to)", "subject": "\(message.subject)", "text": "\(message.text)",
        ])
        return "log-\(idempotencyKey)"
    }
}
