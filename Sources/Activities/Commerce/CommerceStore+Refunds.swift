import Foundation
import Orchestrator
import PostgresNIO

extension CommerceStore {
    struct RefundRecord {
        var id: String
        var orderID: String
        var amount: Int64
        var status: String
        var stripeRefundID: String?
    }

    func refund(_ id: String) async throws -> RefundRecord? {
        let rows = try await connection.query(
            "SELECT order_id, amount, status, stripe_refund_id FROM commerce.refunds WHERE id = \(id)", logger: logger)
        for try await (orderID, amount, status, stripeRefundID) in rows.decode((String, Int64, String, String?).self) {
            return RefundRecord(id: id, orderID: orderID, amount: amount, status: status, stripeRefundID: stripeRefundID)
        }
        return nil
    }

    /// Records a refund as requested and counts it in the order's `refunded_amount` at once; the
    /// caller holds the order's row lock and has checked the amount against what is left.
    func insertRefund(id: String, orderID: String, amount: Int64, reason: String, requestedBy: String) async throws {
        try await connection.query(
            """
            INSERT INTO commerce.refunds (id, order_id, amount, reason, requested_by, status)
            VALUES (\(id), \(orderID), \(amount), \(reason), \(requestedBy), 'requested')
            """, logger: logger)
        try await connection.query(
            "UPDATE commerce.orders SET refunded_amount = refunded_amount + \(amount), updated_at = now() WHERE id = \(orderID)", logger: logger)
    }

    func markRefundSucceeded(id: String, stripeRefundID: String) async throws {
        try await connection.query(
            """
            UPDATE commerce.refunds SET status = 'succeeded', stripe_refund_id = \(stripeRefundID), succeeded_at = now(), updated_at = now()
            WHERE id = \(id) AND status = 'requested'
            """, logger: logger)
    }

    /// A refund Stripe refused: it no longer counts against the order.
    func markRefundFailed(id: String) async throws {
        try await connection.query(
            """
            WITH failed AS (
                UPDATE commerce.refunds SET status = 'failed', updated_at = now() WHERE id = \(id) AND status = 'requested'
                RETURNING order_id, amount)
            UPDATE commerce.orders AS o SET refunded_amount = o.refunded_amount - failed.amount, updated_at = now()
            FROM failed WHERE o.id = failed.order_id
            """, logger: logger)
    }

    /// The refunds of an order, oldest first.
    public func refunds(orderID: String) async throws -> [JSONValue] {
        let rows = try await connection.query(
            """
            SELECT id, amount, reason, requested_by, status, stripe_refund_id, created_at
            FROM commerce.refunds WHERE order_id = \(orderID) ORDER BY created_at, id
            """, logger: logger)
        var refunds: [JSONValue] = []
        for try await (id, amount, reason, requestedBy, status, stripeRefundID, createdAt) in rows.decode((String, Int64, String, String, String, String?, Date).self) {
            refunds.append([
                "refund_id": .string(id), "amount": .number(Double(amount)), "reason": .string(reason), "requested_by": .string(requestedBy),
                "status": .string(status), "stripe_refund_id": stripeRefundID.map(JSONValue.string) ?? .null, "created_at": Self.timestamp(createdAt),
            ])
        }
        return refunds
    }
}
