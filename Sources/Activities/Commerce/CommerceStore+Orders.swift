import Foundation
import Orchestrator
import PostgresNIO

/// An order as stored, with its payment state.
public struct Order: Sendable, Hashable {
    public var id: String
    public var workflowID: String
    public var customerEmail: String
    public var customerPhone: String?
    public var currency: String
    public var amount: Int64
    public var status: String
    public var failureReason: String?
    public var paymentIntentID: String?
    public var chargeID: String?
    public var authorizedAmount: Int64
    public var capturedAmount: Int64
    public var refundedAmount: Int64
    public var paymentAttempts: Int
    public var declines: Int
    public var retryWindowEndsAt: Date?
    public var createdAt: Date
    public var updatedAt: Date
    public var lines: [Line]

    public struct Line: Sendable, Hashable {
        public var sku: String
        public var quantity: Int
        public var unitAmount: Int64
    }

    public var json: JSONValue {
        [
            "order_id": .string(id), "workflow_id": .string(workflowID), "status": .string(status),
            "failure_reason": failureReason.map(JSONValue.string) ?? .null,
            "customer": ["email": .string(customerEmail), "phone": customerPhone.map(JSONValue.string) ?? .null],
            "currency": .string(currency), "amount": .number(Double(amount)),
            "items": .array(lines.map { ["sku": .string($0.sku), "quantity": .number(Double($0.quantity)), "unit_amount": .number(Double($0.unitAmount))] }),
            "payment": [
                "payment_intent_id": paymentIntentID.map(JSONValue.string) ?? .null,
                "charge_id": chargeID.map(JSONValue.string) ?? .null,
                "authorized": .number(Double(authorizedAmount)), "captured": .number(Double(capturedAmount)),
                "refunded": .number(Double(refundedAmount)), "refundable": .number(Double(capturedAmount - refundedAmount)),
                "attempts": .number(Double(paymentAttempts)), "declines": .number(Double(declines)),
            ],
            "created_at": CommerceStore.timestamp(createdAt), "updated_at": CommerceStore.timestamp(updatedAt),
        ]
    }
}

extension CommerceStore {
    struct NewOrder {
        var id: String
        var workflowID: String
        var email: String
        var phone: String?
        var currency: String
        var lines: [Order.Line]
        var amount: Int64 { lines.reduce(0) { $0 + Int64($1.quantity) * $1.unitAmount } }
    }

    /// Inserts the order; `false` when an order with this id exists already.
    func insertOrder(_ order: NewOrder) async throws -> Bool {
        let rows = try await connection.query(
            """
            WITH inserted AS (
                INSERT INTO commerce.orders (id, workflow_id, customer_email, customer_phone, currency, amount, status)
                VALUES (\(order.id), \(order.workflowID), \(order.email), \(order.phone), \(order.currency), \(order.amount), 'pending')
                ON CONFLICT (id) DO NOTHING
                RETURNING id),
            lines AS (
                INSERT INTO commerce.order_lines (order_id, line, sku, quantity, unit_amount)
                SELECT (SELECT id FROM inserted), l.line, l.sku, l.quantity, l.unit_amount
                FROM unnest(\(order.lines.indices.map { Int32($0 + 1) })::int4[], \(order.lines.map(\.sku))::text[],
                            \(order.lines.map { Int32($0.quantity) })::int4[], \(order.lines.map(\.unitAmount))::int8[])
                    AS l(line, sku, quantity, unit_amount)
                WHERE EXISTS (SELECT 1 FROM inserted))
            SELECT count(*) FROM inserted
            """, logger: logger)
        for try await count in rows.decode(Int64.self) { return count == 1 }
        return false
    }

    /// The order, its row locked until the transaction ends (refunds check what is left under it).
    /// The read comes after the lock, so it sees every change committed before the lock was granted.
    func lockOrder(_ id: String) async throws -> Order? {
        for try await _ in try await connection.query("SELECT 1 FROM commerce.orders WHERE id = \(id) FOR UPDATE", logger: logger) {
            return try await order(id)
        }
        return nil
    }

    public func order(_ id: String) async throws -> Order? {
        let query: PostgresQuery = """
            SELECT workflow_id, customer_email, customer_phone, currency, amount, status, failure_reason, payment_intent_id, charge_id,
                   authorized_amount, captured_amount, refunded_amount, payment_attempts, declines, retry_window_ends_at, created_at, updated_at
            FROM commerce.orders WHERE id = \(id)
            """
        var found: Order?
        for try await row in try await connection.query(query, logger: logger) {
            let (workflowID, email, phone, currency, amount, status, reason, paymentIntentID, chargeID, authorized, captured, refunded, attempts, declines, windowEnd, createdAt, updatedAt) =
                try row.decode((String, String, String?, String, Int64, String, String?, String?, String?, Int64, Int64, Int64, Int32, Int32, Date?, Date, Date).self)
            found = Order(
                id: id, workflowID: workflowID, customerEmail: email, customerPhone: phone, currency: currency, amount: amount, status: status,
                failureReason: reason, paymentIntentID: paymentIntentID, chargeID: chargeID, authorizedAmount: authorized,
                capturedAmount: captured, refundedAmount: refunded, paymentAttempts: Int(attempts), declines: Int(declines),
                retryWindowEndsAt: windowEnd, createdAt: createdAt, updatedAt: updatedAt, lines: [])
        }
        guard var order = found else { return nil }
        let lines = try await connection.query(
            "SELECT sku, quantity, unit_amount FROM commerce.order_lines WHERE order_id = \(id) ORDER BY line", logger: logger)
        for try await (sku, quantity, unitAmount) in lines.decode((String, Int32, Int64).self) {
            order.lines.append(Order.Line(sku: sku, quantity: Int(quantity), unitAmount: unitAmount))
        }
        return order
    }

    /// The order a PaymentIntent is the current payment of.
    public func orderID(paymentIntent id: String) async throws -> String? {
        for try await orderID in try await connection.query(
            "SELECT id FROM commerce.orders WHERE payment_intent_id = \(id)", logger: logger).decode(String.self) {
            return orderID
        }
        return nil
    }

    /// A new PaymentIntent for the order, as Stripe answered it.
    func recordAuthorization(orderID: String, paymentIntentID: String, status: String, authorized: Int64) async throws {
        try await connection.query(
            """
            UPDATE commerce.orders SET payment_intent_id = \(paymentIntentID), authorized_amount = \(authorized),
                status = \(status), payment_attempts = payment_attempts + CASE WHEN payment_intent_id IS DISTINCT FROM \(paymentIntentID) THEN 1 ELSE 0 END,
                updated_at = now()
            WHERE id = \(orderID)
            """, logger: logger)
    }

    /// A decline: counted, and the retry window opened at the first one; `windowOpen`: it has not ended yet.
    func recordDecline(orderID: String, window: Duration) async throws -> (declines: Int, windowEndsAt: Date, windowStartedAt: Date, windowOpen: Bool)? {
        let rows = try await connection.query(
            """
            UPDATE commerce.orders SET declines = declines + 1, status = 'awaiting_payment',
                retry_window_ends_at = coalesce(retry_window_ends_at, now() + make_interval(secs => \(window.seconds))), updated_at = now()
            WHERE id = \(orderID)
            RETURNING declines, retry_window_ends_at, retry_window_ends_at - make_interval(secs => \(window.seconds)),
                      clock_timestamp() < retry_window_ends_at
            """, logger: logger)
        for try await (declines, ends, started, open) in rows.decode((Int32, Date, Date, Bool).self) { return (Int(declines), ends, started, open) }
        return nil
    }

    func recordCapture(orderID: String, paymentIntentID: String, chargeID: String?, captured: Int64) async throws {
        try await connection.query(
            """
            UPDATE commerce.orders SET status = 'paid', payment_intent_id = \(paymentIntentID), charge_id = \(chargeID),
                captured_amount = \(captured), captured_at = coalesce(captured_at, now()), updated_at = now()
            WHERE id = \(orderID)
            """, logger: logger)
    }

    /// Ends an unpaid order as `failed` or `cancelled`; a paid or closed one stays as it is.
    func closeOrder(orderID: String, status: String, reason: String?) async throws -> Order? {
        try await connection.query(
            """
            UPDATE commerce.orders SET status = \(status), failure_reason = \(reason), updated_at = now()
            WHERE id = \(orderID) AND status IN ('pending', 'awaiting_payment', 'authorized')
            """, logger: logger)
        return try await order(orderID)
    }
}
