import Orchestrator

/// `notify`: renders a `MessageTemplate` and sends it by email to `email` and by SMS to `phone`
/// (each when given), through the configured providers. Input `{template, email?, phone?, facts}`;
/// output `{sent: [{channel, to, provider, message_id}]}`.
///
/// Each channel's send carries its own key (`<task key>/email`, `<task key>/sms`); a retry after a
/// failed SMS sends the email again only if the provider does not dedupe it.
public struct NotifyActivity: Activity {
    public static let name = "notify"

    public struct Input: Decodable, Sendable {
        var template: MessageTemplate
        var email: String?
        var phone: String?
        var facts: JSONValue?
    }

    let notifiers: [NotificationChannel: any Notifier]

    public init(email: any Notifier, sms: any Notifier) {
        notifiers = [.email: email, .sms: sms]
    }

    public func run(_ input: Input, context: ActivityContext) async throws -> JSONValue {
        let (subject, text) = input.template.render(input.facts ?? .emptyObject)
        var sent: [JSONValue] = []
        for (channel, address) in [(NotificationChannel.email, input.email), (.sms, input.phone)] {
            guard let address, !address.isEmpty, let notifier = notifiers[channel] else { continue }
            let messageID = try await notifier.send(
                OutgoingMessage(to: address, subject: subject, text: text), idempotencyKey: "\(context.idempotencyKey)/\(channel.rawValue)",
                logger: context.logger)
            sent.append(["channel": .string(channel.rawValue), "to": .string(address), "provider": .string(notifier.provider), "message_id": .string(messageID)])
        }
        guard !sent.isEmpty else {
            throw ActivityError.nonRetryable("notify.no_recipient", "\(input.template.rawValue): neither an email nor a phone to send to")
        }
        return ["sent": .array(sent)]
    }
}
