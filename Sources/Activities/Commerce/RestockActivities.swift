import Orchestrator
import PostgresNIO

/// `inventory.add`: adds `quantity` (0 or more) to a SKU's stock, creating it. Input `{sku,
/// quantity}`; output `{sku, on_hand, reserved, available, on_hand_before}`.
public struct AddStock: TransactionalActivity {
    public static let name = "inventory.add"

    public struct Input: Decodable, Sendable {
        var sku: String
        var quantity: Int
    }

    public init() {}

    public func run(_ input: Input, context: ActivityContext, connection: PostgresConnection) async throws -> JSONValue {
        guard (1...100).contains(input.sku.utf8.count) else { throw CommerceError.invalidOrder("a SKU must have 1 to 100 bytes") }
        guard (0...1_000_000).contains(input.quantity) else { throw CommerceError.invalidOrder("quantity must be a whole number from 0 to 1000000") }
        let (before, after) = try await CommerceStore(connection: connection, logger: context.logger).addStock(input.sku, quantity: input.quantity)
        var json = after.json
        json["on_hand_before"] = .number(Double(before))
        return json
    }
}

/// `waitlist.claim`: the subscribers of a SKU this restock is to tell (claimed, so a concurrent
/// restock of the same SKU tells none of them twice). Input `{sku}`; output `{subscribers: [{id,
/// channel, address}]}`.
public struct ClaimSubscribers: TransactionalActivity {
    public static let name = "waitlist.claim"

    public struct Input: Decodable, Sendable {
        var sku: String
    }

    public init() {}

    public func run(_ input: Input, context: ActivityContext, connection: PostgresConnection) async throws -> JSONValue {
        let subscribers = try await CommerceStore(connection: connection, logger: context.logger).claimSubscribers(sku: input.sku, restock: context.workflowID)
        return ["subscribers": .array(subscribers.map { ["id": .string(String($0.id)), "channel": .string($0.channel), "address": .string($0.address)] })]
    }
}

/// `waitlist.notify`: tells one subscriber the SKU is back, by their channel. Input
/// `{subscriber_id, sku, channel, address}`; output `{subscriber_id, message_id}`. The task's
/// idempotency key goes to the provider, so a retried item (a worker died after sending) sends
/// with the same key.
public struct NotifySubscriber: Activity {
    public static let name = "waitlist.notify"

    public struct Input: Decodable, Sendable {
        var subscriberID: String
        var sku: String
        var channel: NotificationChannel
        var address: String
        enum CodingKeys: String, CodingKey { case subscriberID = "subscriber_id", sku, channel, address }
    }

    let notifiers: [NotificationChannel: any Notifier]

    public init(email: any Notifier, sms: any Notifier) {
        notifiers = [.email: email, .sms: sms]
    }

    public func run(_ input: Input, context: ActivityContext) async throws -> JSONValue {
        let (subject, text) = MessageTemplate.backInStock.render(["sku": .string(input.sku)])
        guard let notifier = notifiers[input.channel] else { throw ActivityError.nonRetryable("notify.no_channel", "no \(input.channel.rawValue) notifier") }
        let messageID = try await notifier.send(OutgoingMessage(to: input.address, subject: subject, text: text), idempotencyKey: context.idempotencyKey, logger: context.logger)
        return ["subscriber_id": .string(input.subscriberID), "message_id": .string(messageID)]
    }
}

/// `waitlist.mark_notified`: the subscribers told leave the list. Input `{notified: [{subscriber_id}]}`
/// (the `map` of `waitlist.notify`'s results); output `{marked}`.
public struct MarkNotified: TransactionalActivity {
    public static let name = "waitlist.mark_notified"

    public struct Input: Decodable, Sendable {
        var notified: [Told?]
        struct Told: Decodable, Sendable {
            var subscriberID: String
            enum CodingKeys: String, CodingKey { case subscriberID = "subscriber_id" }
        }
    }

    public init() {}

    public func run(_ input: Input, context: ActivityContext, connection: PostgresConnection) async throws -> JSONValue {
        let ids = input.notified.compactMap { $0.flatMap { Int64($0.subscriberID) } }
        let marked = try await CommerceStore(connection: connection, logger: context.logger).markNotified(ids: ids)
        return ["marked": .number(Double(marked))]
    }
}
