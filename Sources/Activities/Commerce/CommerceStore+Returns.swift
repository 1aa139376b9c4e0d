import Foundation
import Orchestrator
import PostgresNIO

extension CommerceStore {
    /// Quantities of each SKU of the order already in a return that was not turned down.
    func returnedQuantities(orderID: String) async throws -> [String: Int] {
        let rows = try await connection.query(
            """
            SELECT item->>'sku', sum((item->>'quantity')::int)::int8
            FROM commerce.returns r, jsonb_array_elements(r.items) AS item
            WHERE r.order_id = \(orderID) AND r.status NOT IN ('rejected', 'expired')
            GROUP BY 1
            """, logger: logger)
        var quantities: [String: Int] = [:]
        for try await (sku, quantity) in rows.decode((String, Int64).self) { quantities[sku] = Int(quantity) }
        return quantities
    }

    func insertReturn(id: String, orderID: String, items: [StockLine], reason: String, amount: Int64) async throws {
        let itemsJSON = JSONValue.array(items.map { ["sku": .string($0.sku), "quantity": .number(Double($0.quantity))] })
        try await connection.query(
            """
            INSERT INTO commerce.returns (id, order_id, items, reason, amount, status)
            VALUES (\(id), \(orderID), \(itemsJSON.jsonText)::jsonb, \(reason), \(amount), 'open')
            """, logger: logger)
    }

    /// The return's order and items, its row locked; `nil` when there is no such return.
    func lockReturn(_ id: String) async throws -> (orderID: String, items: [StockLine], status: String, restocked: Bool)? {
        let rows = try await connection.query(
            "SELECT order_id, items::text, status, restocked_at IS NOT NULL FROM commerce.returns WHERE id = \(id) FOR UPDATE", logger: logger)
        for try await (orderID, items, status, restocked) in rows.decode((String, String, String, Bool).self) {
            return (orderID, try JSONValue(json: items).decode([StockLine].self), status, restocked)
        }
        return nil
    }

    func setReturnStatus(_ id: String, status: String, note: String?) async throws -> Bool {
        let rows = try await connection.query(
            "UPDATE commerce.returns SET status = \(status), note = coalesce(\(note), note), updated_at = now() WHERE id = \(id) RETURNING 1",
            logger: logger)
        for try await _ in rows { return true }
        return false
    }

    func markRestocked(_ id: String) async throws {
        try await connection.query("UPDATE commerce.returns SET restocked_at = now(), updated_at = now() WHERE id = \(id)", logger: logger)
    }

    public func returns(orderID: String) async throws -> [JSONValue] {
        let rows = try await connection.query(
            "SELECT id, items::text, reason, amount, status, note, created_at FROM commerce.returns WHERE order_id = \(orderID) ORDER BY created_at, id",
            logger: logger)
        var returns: [JSONValue] = []
        for try await (id, items, reason, amount, status, note, createdAt) in rows.decode((String, String, String, Int64, String, String?, Date).self) {
            returns.append([
                "rma": .string(id), "items": try JSONValue(json: items), "reason": .string(reason), "amount": .number(Double(amount)),
                "status": .string(status), "note": note.map(JSONValue.string) ?? .null, "created_at": Self.timestamp(createdAt),
            ])
        }
        return returns
    }

    // MARK: - Waitlist notifications

    struct Subscriber { var id: Int64, channel: String, address: String }

    /// Claims for `restock` every subscriber of `sku` not yet told and not claimed by another
    /// restock (those it claimed already included, so a retry answers the same list).
    func claimSubscribers(sku: String, restock: String) async throws -> [Subscriber] {
        let rows = try await connection.query(
            """
            UPDATE commerce.waitlist SET claimed_by = \(restock)
            WHERE sku = \(sku) AND notified_at IS NULL AND (claimed_by IS NULL OR claimed_by = \(restock))
            RETURNING id, channel, address
            """, logger: logger)
        var subscribers: [Subscriber] = []
        for try await (id, channel, address) in rows.decode((Int64, String, String).self) {
            subscribers.append(Subscriber(id: id, channel: channel, address: address))
        }
        return subscribers.sorted { $0.id < $1.id }
    }

    /// The subscribers were told: they leave the list.
    func markNotified(ids: [Int64]) async throws -> Int {
        let rows = try await connection.query(
            "UPDATE commerce.waitlist SET notified_at = now() WHERE id = ANY(\(ids)::int8[]) AND notified_at IS NULL RETURNING 1", logger: logger)
        var count = 0
        for try await _ in rows { count += 1 }
        return count
    }
}
