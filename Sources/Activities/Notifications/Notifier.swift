import Logging
import Orchestrator

/// Sends one message to a customer or to ops. `idempotencyKey` is the task's: a provider that
/// dedupes on it sends a retried message once; the message id it answers is recorded either way.
/// `logger` is the task's (its lines carry the workflow, task, attempt and correlation id).
public protocol Notifier: Sendable {
    /// `email` or `sms`.
    var channel: NotificationChannel { get }
    /// The provider's name, recorded with each message (`sendgrid`, `twilio`, `log`).
    var provider: String { get }
    func send(_ message: OutgoingMessage, idempotencyKey: String, logger: Logger) async throws -> String
}

public enum NotificationChannel: String, Sendable, Hashable, Codable, CaseIterable {
    case email, sms
}

public struct OutgoingMessage: Sendable, Hashable {
    public var to: String
    /// Email only.
    public var subject: String
    public var text: String
    public init(to: String, subject: String, text: String) {
        self.to = to
        self.subject = subject
        self.text = text
    }
}
