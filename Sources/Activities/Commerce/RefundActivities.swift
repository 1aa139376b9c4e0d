import Orchestrator
import PostgresNIO

/// `refunds.request`: checks and records a refund before any money moves. Under the order's row
/// lock it refuses more than is left (captured minus earlier refunds, those still in flight
/// included), so concurrent refunds never add up past the capture. Input `{order_id, amount?,
/// reason, requested_by}` (`amount` omitted = all that is left); output `{refund_id, order_id,
/// amount, currency, payment_intent_id, customer_email, customer_phone}`. The refund id is the
/// workflow's.
public struct RequestRefund: TransactionalActivity {
    public static let name = "refunds.request"

    public struct Input: Decodable, Sendable {
        var orderID: String
        var amount: Int64?
        var reason: String
        var requestedBy: String?
        enum CodingKeys: String, CodingKey { case orderID = "order_id", amount, reason, requestedBy = "requested_by" }
    }

    public init() {}

    public func run(_ input: Input, context: ActivityContext, connection: PostgresConnection) async throws -> JSONValue {
        guard (1...500).contains(input.reason.count) else { throw CommerceError.invalidOrder("reason must have 1 to 500 characters") }
        let store = CommerceStore(connection: connection, logger: context.logger)
        guard let order = try await store.lockOrder(input.orderID) else { throw CommerceError.orderNotFound(input.orderID) }
        if let existing = try await store.refund(context.workflowID) {
            return Self.output(refundID: existing.id, amount: existing.amount, order: order)
        }
        guard order.capturedAmount > 0, order.paymentIntentID != nil else { throw CommerceError.notCaptured(order.id) }
        let left = order.capturedAmount - order.refundedAmount
        let amount = input.amount ?? left
        guard amount > 0 else {
            throw CommerceError.refundExceedsCaptured(input.amount == nil ? "order \(order.id) has nothing left to refund" : "a refund's amount must be above zero")
        }
        guard amount <= left else {
            throw CommerceError.refundExceedsCaptured(
                "order \(order.id): \(amount) asked, \(left) left to refund (captured \(order.capturedAmount), refunded or in flight \(order.refundedAmount))")
        }
        try await store.insertRefund(id: context.workflowID, orderID: order.id, amount: amount, reason: input.reason, requestedBy: input.requestedBy ?? "unknown")
        return Self.output(refundID: context.workflowID, amount: amount, order: order)
    }

    static func output(refundID: String, amount: Int64, order: Order) -> JSONValue {
        [
            "refund_id": .string(refundID), "order_id": .string(order.id), "amount": .number(Double(amount)), "currency": .string(order.currency),
            "payment_intent_id": order.paymentIntentID.map(JSONValue.string) ?? .null,
            "customer_email": .string(order.customerEmail), "customer_phone": order.customerPhone.map(JSONValue.string) ?? .null,
        ]
    }
}

/// `refunds.record`: Stripe refunded; the refund is `succeeded` with Stripe's id. Input
/// `{refund_id, stripe_refund_id}`.
public struct RecordRefund: TransactionalActivity {
    public static let name = "refunds.record"

    public struct Input: Decodable, Sendable {
        var refundID: String
        var stripeRefundID: String
        enum CodingKeys: String, CodingKey { case refundID = "refund_id", stripeRefundID = "stripe_refund_id" }
    }

    public init() {}

    public func run(_ input: Input, context: ActivityContext, connection: PostgresConnection) async throws -> JSONValue {
        try await CommerceStore(connection: connection, logger: context.logger).markRefundSucceeded(id: input.refundID, stripeRefundID: input.stripeRefundID)
        return ["refund_id": .string(input.refundID), "status": "succeeded"]
    }
}

/// `refunds.fail`: Stripe refused the refund; it stops counting against the order (the
/// compensation of `refunds.request`). Input `{refund_id}`.
public struct FailRefund: TransactionalActivity {
    public static let name = "refunds.fail"

    public struct Input: Decodable, Sendable {
        var refundID: String
        enum CodingKeys: String, CodingKey { case refundID = "refund_id" }
    }

    public init() {}

    public func run(_ input: Input, context: ActivityContext, connection: PostgresConnection) async throws -> JSONValue {
        try await CommerceStore(connection: connection, logger: context.logger).markRefundFailed(id: input.refundID)
        return ["refund_id": .string(input.refundID), "status": "failed"]
    }
}
