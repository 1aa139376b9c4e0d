import Foundation
import Orchestrator
import PostgresNIO

/// `orders.create`: checks a checkout's input and records the order and its lines. Output: the
/// facts the checkout runs on — `{order_id, reservation_id, amount, currency, capture,
/// payment_retries, payment_retry_window, authorization_expires_at}` with the defaults applied.
public struct CreateOrder: TransactionalActivity {
    public static let name = "orders.create"

    public struct Input: Decodable, Sendable {
        var orderID: String
        var customer: Customer
        var items: [Item]
        var currency: String
        var paymentMethod: String
        var capture: String?
        var paymentRetries: Int?
        var paymentRetryWindow: String?
        var authorizationTTL: String?

        struct Customer: Decodable, Sendable {
            var email: String
            var phone: String?
        }
        struct Item: Decodable, Sendable {
            var sku: String
            var quantity: Int
            var unitAmount: Int64
            enum CodingKeys: String, CodingKey { case sku, quantity, unitAmount = "unit_amount" }
        }
        enum CodingKeys: String, CodingKey {
            case orderID = "order_id", customer, items, currency, paymentMethod = "payment_method", capture
            case paymentRetries = "payment_retries", paymentRetryWindow = "payment_retry_window", authorizationTTL = "authorization_ttl"
        }
    }

    /// Stripe holds an uncaptured authorization for 7 days; the default stays under it.
    static let defaultAuthorizationTTL = Duration.seconds(6 * 86_400)
    static let maximumAuthorizationTTL = Duration.seconds(7 * 86_400)
    static let defaultRetryWindow = Duration.seconds(86_400)
    static let defaultRetries = 3

    public init() {}

    public func run(_ input: Input, context: ActivityContext, connection: PostgresConnection) async throws -> JSONValue {
        guard (1...100).contains(input.orderID.utf8.count) else { throw CommerceError.invalidOrder("order_id must have 1 to 100 bytes") }
        guard input.customer.email.contains("@"), input.customer.email.count <= 320 else {
            throw CommerceError.invalidOrder("customer.email '\(input.customer.email)' is not an email address")
        }
        guard input.currency.count == 3, input.currency.allSatisfy({ $0.isASCII && $0.isLetter }) else {
            throw CommerceError.invalidOrder("currency must be a three-letter ISO code such as usd")
        }
        guard !input.paymentMethod.isEmpty else { throw CommerceError.invalidOrder("payment_method is required") }
        let capture = input.capture ?? "automatic"
        guard ["automatic", "manual"].contains(capture) else { throw CommerceError.invalidOrder("capture must be automatic or manual") }
        let retries = input.paymentRetries ?? Self.defaultRetries
        guard (0...20).contains(retries) else { throw CommerceError.invalidOrder("payment_retries must be from 0 to 20") }
        let window = try Self.duration(input.paymentRetryWindow, field: "payment_retry_window", default: Self.defaultRetryWindow)
        let authorizationTTL = try Self.duration(input.authorizationTTL, field: "authorization_ttl", default: Self.defaultAuthorizationTTL)
        guard authorizationTTL <= Self.maximumAuthorizationTTL else {
            throw CommerceError.invalidOrder("authorization_ttl must stay within Stripe's 7 days")
        }
        _ = try StockLine.merged(input.items.map { StockLine(sku: $0.sku, quantity: $0.quantity) })
        guard input.items.allSatisfy({ $0.unitAmount >= 0 && $0.unitAmount <= 100_000_000 }) else {
            throw CommerceError.invalidOrder("unit_amount must be a whole number of minor units from 0 to 100000000")
        }
        let order = CommerceStore.NewOrder(
            id: input.orderID, workflowID: context.workflowID, email: input.customer.email, phone: input.customer.phone,
            currency: input.currency.lowercased(),
            lines: input.items.map { Order.Line(sku: $0.sku, quantity: $0.quantity, unitAmount: $0.unitAmount) })
        guard order.amount > 0 else { throw CommerceError.invalidOrder("the order's amount must be above zero") }

        let store = CommerceStore(connection: connection, logger: context.logger)
        if try await !store.insertOrder(order), try await store.order(order.id)?.workflowID != context.workflowID {
            throw CommerceError.orderTaken(order.id)
        }
        let now = try await store.now()
        return [
            "order_id": .string(order.id), "reservation_id": .string("order:\(order.id)"),
            "amount": .number(Double(order.amount)), "currency": .string(order.currency), "capture": .string(capture),
            "payment_retries": .number(Double(retries)), "payment_retry_window": .string(window.text),
            "authorization_expires_at": CommerceStore.timestamp(now.addingTimeInterval(authorizationTTL.seconds)),
        ]
    }

    static func duration(_ text: String?, field: String, default fallback: Duration) throws -> Duration {
        guard let text else { return fallback }
        guard let duration = Duration(text: text), duration > .zero else {
            throw CommerceError.invalidOrder("\(field) '\(text)' is not a duration such as 30m, 24h or 6d")
        }
        return duration
    }
}

/// `orders.record_payment`: the order's current PaymentIntent as Stripe answered it. Input
/// `{order_id, payment}` (the output of `payments.authorize`, `payments.retrieve` or `payments.capture`).
/// A captured payment marks the order `paid`.
public struct RecordPayment: TransactionalActivity {
    public static let name = "orders.record_payment"

    public struct Input: Decodable, Sendable {
        var orderID: String
        var payment: PaymentSummary
        enum CodingKeys: String, CodingKey { case orderID = "order_id", payment }
    }

    public init() {}

    public func run(_ input: Input, context: ActivityContext, connection: PostgresConnection) async throws -> JSONValue {
        let store = CommerceStore(connection: connection, logger: context.logger)
        let payment = input.payment
        if payment.status == "succeeded" {
            try await store.recordCapture(orderID: input.orderID, paymentIntentID: payment.paymentIntentID, chargeID: payment.chargeID, captured: payment.amountReceived ?? payment.amount)
        } else {
            let status = payment.status == "requires_capture" ? "authorized" : "awaiting_payment"
            try await store.recordAuthorization(orderID: input.orderID, paymentIntentID: payment.paymentIntentID, status: status,
                                                authorized: payment.status == "requires_capture" ? payment.amountCapturable ?? payment.amount : 0)
        }
        guard let order = try await store.order(input.orderID) else { throw CommerceError.orderNotFound(input.orderID) }
        return ["order_id": .string(order.id), "status": .string(order.status)]
    }
}

/// `orders.record_decline`: counts a declined payment and says whether the customer may try
/// again. Input `{order_id, payment_retries, payment_retry_window}`; output `{declines,
/// retries_left, window_ends_at, remind_at}`. The window opens at the first decline; the reminder
/// is due when three quarters of it have passed.
public struct RecordDecline: TransactionalActivity {
    public static let name = "orders.record_decline"

    public struct Input: Decodable, Sendable {
        var orderID: String
        var paymentRetries: Int
        var paymentRetryWindow: String
        enum CodingKeys: String, CodingKey {
            case orderID = "order_id", paymentRetries = "payment_retries", paymentRetryWindow = "payment_retry_window"
        }
    }

    public init() {}

    public func run(_ input: Input, context: ActivityContext, connection: PostgresConnection) async throws -> JSONValue {
        let store = CommerceStore(connection: connection, logger: context.logger)
        let window = try CreateOrder.duration(input.paymentRetryWindow, field: "payment_retry_window", default: CreateOrder.defaultRetryWindow)
        guard let recorded = try await store.recordDecline(orderID: input.orderID, window: window) else {
            throw CommerceError.orderNotFound(input.orderID)
        }
        let retriesLeft = recorded.windowOpen ? max(input.paymentRetries - recorded.declines + 1, 0) : 0
        let remindAt = recorded.windowStartedAt.addingTimeInterval(window.seconds * 0.75)
        return [
            "declines": .number(Double(recorded.declines)), "retries_left": .number(Double(retriesLeft)),
            "window_ends_at": CommerceStore.timestamp(recorded.windowEndsAt), "remind_at": CommerceStore.timestamp(remindAt),
        ]
    }
}

/// `orders.close`: ends an order that was not paid as `failed` or `cancelled`, with the reason.
/// Input `{order_id, status, reason?}`. A paid or already closed order is left as it is.
public struct CloseOrder: TransactionalActivity {
    public static let name = "orders.close"

    public struct Input: Decodable, Sendable {
        var orderID: String
        var status: String
        var reason: String?
        enum CodingKeys: String, CodingKey { case orderID = "order_id", status, reason }
    }

    public init() {}

    public func run(_ input: Input, context: ActivityContext, connection: PostgresConnection) async throws -> JSONValue {
        guard ["failed", "cancelled"].contains(input.status) else {
            throw ActivityError.nonRetryable("order.invalid_status", "an order closes as failed or cancelled, not \(input.status)")
        }
        let store = CommerceStore(connection: connection, logger: context.logger)
        // The order may not exist: its creation is what failed.
        guard let order = try await store.closeOrder(orderID: input.orderID, status: input.status, reason: input.reason) else {
            return ["order_id": .string(input.orderID), "status": "none"]
        }
        return ["order_id": .string(order.id), "status": .string(order.status)]
    }
}
