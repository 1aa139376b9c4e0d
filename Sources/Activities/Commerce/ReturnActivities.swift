import Orchestrator
import PostgresNIO

/// `returns.open`: opens an RMA (its id is the workflow's) for items of a paid order, at most what
/// was ordered minus what other returns already take back. Input `{order_id, items, reason}`;
/// output `{rma, order_id, amount, currency, customer_email, customer_phone, items}`, `amount` being
/// what the items cost.
public struct OpenReturn: TransactionalActivity {
    public static let name = "returns.open"

    public struct Input: Decodable, Sendable {
        var orderID: String
        var items: [StockLine]
        var reason: String
        enum CodingKeys: String, CodingKey { case orderID = "order_id", items, reason }
    }

    public init() {}

    public func run(_ input: Input, context: ActivityContext, connection: PostgresConnection) async throws -> JSONValue {
        guard (1...500).contains(input.reason.count) else { throw CommerceError.invalidReturn("reason must have 1 to 500 characters") }
        let lines = try StockLine.merged(input.items)
        let store = CommerceStore(connection: connection, logger: context.logger)
        guard let order = try await store.lockOrder(input.orderID) else { throw CommerceError.orderNotFound(input.orderID) }
        guard order.status == "paid" else { throw CommerceError.notCaptured(order.id) }
        let returned = try await store.returnedQuantities(orderID: order.id)
        var amount: Int64 = 0
        for line in lines {
            let ordered = order.lines.filter { $0.sku == line.sku }
            let quantity = ordered.reduce(0) { $0 + $1.quantity }
            guard quantity - (returned[line.sku] ?? 0) >= line.quantity else {
                throw CommerceError.invalidReturn("order \(order.id) has \(quantity - (returned[line.sku] ?? 0)) of \(line.sku) left to return, not \(line.quantity)")
            }
            amount += Int64(line.quantity) * (ordered.first?.unitAmount ?? 0)
        }
        try await store.insertReturn(id: context.workflowID, orderID: order.id, items: lines, reason: input.reason, amount: amount)
        return [
            "rma": .string(context.workflowID), "order_id": .string(order.id), "amount": .number(Double(amount)), "currency": .string(order.currency),
            "customer_email": .string(order.customerEmail), "customer_phone": order.customerPhone.map(JSONValue.string) ?? .null,
            "items": .array(lines.map { ["sku": .string($0.sku), "quantity": .number(Double($0.quantity))] }),
        ]
    }
}

/// `returns.set_status`: records how the return stands. Input `{rma, status, note?}`.
public struct SetReturnStatus: TransactionalActivity {
    public static let name = "returns.set_status"

    public struct Input: Decodable, Sendable {
        var rma: String
        var status: String
        var note: String?
    }

    static let statuses: Set<String> = ["approved", "rejected", "expired", "received", "refunded", "refund_failed", "completed"]

    public init() {}

    public func run(_ input: Input, context: ActivityContext, connection: PostgresConnection) async throws -> JSONValue {
        guard Self.statuses.contains(input.status) else { throw CommerceError.invalidReturn("'\(input.status)' is not a return status") }
        guard try await CommerceStore(connection: connection, logger: context.logger).setReturnStatus(input.rma, status: input.status, note: input.note) else {
            throw CommerceError.invalidReturn("no return '\(input.rma)'")
        }
        return ["rma": .string(input.rma), "status": .string(input.status)]
    }
}

/// `returns.restock`: puts the return's items back in stock, once. Input `{rma}`; output
/// `{back_in_stock: [{sku, quantity}]}` — the SKUs whose stock went from none to some, for which
/// a restock (waitlist notifications) is due.
public struct RestockReturn: TransactionalActivity {
    public static let name = "returns.restock"

    public struct Input: Decodable, Sendable {
        var rma: String
    }

    public init() {}

    public func run(_ input: Input, context: ActivityContext, connection: PostgresConnection) async throws -> JSONValue {
        let store = CommerceStore(connection: connection, logger: context.logger)
        guard let found = try await store.lockReturn(input.rma) else { throw CommerceError.invalidReturn("no return '\(input.rma)'") }
        guard !found.restocked else { return ["back_in_stock": [], "already_restocked": true] }
        var backInStock: [JSONValue] = []
        for line in found.items {
            let (before, after) = try await store.addStock(line.sku, quantity: line.quantity)
            if before == 0 && after.onHand > 0 {
                backInStock.append(["sku": .string(line.sku), "quantity": .number(Double(line.quantity))])
            }
        }
        try await store.markRestocked(input.rma)
        return ["back_in_stock": .array(backInStock)]
    }
}
