import Foundation
import Orchestrator
import PostgresNIO

/// One line of a reservation or an order.
public struct StockLine: Codable, Sendable, Hashable {
    public var sku: String
    public var quantity: Int
}

/// `inventory.reserve`: holds every line or none. Input `{reservation_id?, order_id, items, ttl?}`
/// (the reservation id defaults to the workflow's id); output `{reservation_id, order_id, status,
/// expires_at, items}`. Not enough stock for any line fails with the final `insufficient_stock`.
/// Reserving an id that exists answers that reservation.
public struct ReserveStock: TransactionalActivity {
    public static let name = "inventory.reserve"

    public struct Input: Decodable, Sendable {
        var reservationID: String?
        var orderID: String
        var items: [StockLine]
        var ttl: String?
        enum CodingKeys: String, CodingKey {
            case reservationID = "reservation_id", orderID = "order_id", items, ttl
        }
    }

    public init() {}

    public func run(_ input: Input, context: ActivityContext, connection: PostgresConnection) async throws -> JSONValue {
        let store = CommerceStore(connection: connection, logger: context.logger)
        let reservationID = input.reservationID ?? context.workflowID
        if let existing = try await store.reservation(reservationID) { return existing.json }
        let lines = try StockLine.merged(input.items)
        var expiresAt: Date?
        if let ttl = input.ttl {
            guard let duration = Duration(text: ttl), duration > .zero else {
                throw ActivityError.nonRetryable("reservation.invalid_ttl", "ttl '\(ttl)' is not a duration such as 15m or 2h")
            }
            expiresAt = try await store.now().addingTimeInterval(duration.seconds)
        }
        let shortages = try await store.reserve(lines)
        guard shortages.isEmpty else {
            throw CommerceError.insufficientStock("not enough stock: " + shortages.map { "\($0.sku) (wanted \($0.wanted), available \($0.available))" }.joined(separator: ", "))
        }
        let reservation = try await store.insertReservation(id: reservationID, orderID: input.orderID, lines: lines, expiresAt: expiresAt)
        return reservation.json
    }
}

/// `inventory.commit`: a held reservation's stock leaves the shop (on_hand and reserved both go
/// down). Input `{reservation_id?}` (default: the workflow's id). Committing a committed reservation changes nothing; a released
/// or expired one fails with the final `reservation.not_held`.
public struct CommitReservation: TransactionalActivity {
    public static let name = "inventory.commit"

    public struct Input: Decodable, Sendable {
        var reservationID: String?
        enum CodingKeys: String, CodingKey { case reservationID = "reservation_id" }
    }

    public init() {}

    public func run(_ input: Input, context: ActivityContext, connection: PostgresConnection) async throws -> JSONValue {
        let store = CommerceStore(connection: connection, logger: context.logger)
        let reservationID = input.reservationID ?? context.workflowID
        guard let reservation = try await store.lockReservation(reservationID) else {
            throw ActivityError.nonRetryable("reservation.not_found", "no reservation '\(reservationID)'")
        }
        switch reservation.status {
        case "committed": return reservation.json
        case "held": return try await store.settle(reservation, as: "committed").json
        default: throw CommerceError.reservationNotHeld(reservation.id, status: reservation.status)
        }
    }
}

/// `inventory.release`: gives a held reservation's stock back (reserved goes down) — the
/// compensation, which happens once: a reservation that is no longer held, or was never made
/// (the reserve failed), is answered as it stands. Input `{reservation_id?, expired?}`.
public struct ReleaseReservation: TransactionalActivity {
    public static let name = "inventory.release"

    public struct Input: Decodable, Sendable {
        var reservationID: String?
        var expired: Bool?
        enum CodingKeys: String, CodingKey { case reservationID = "reservation_id", expired }
    }

    public init() {}

    public func run(_ input: Input, context: ActivityContext, connection: PostgresConnection) async throws -> JSONValue {
        let store = CommerceStore(connection: connection, logger: context.logger)
        let reservationID = input.reservationID ?? context.workflowID
        guard let reservation = try await store.lockReservation(reservationID) else {
            return ["reservation_id": .string(reservationID), "status": "none"]
        }
        guard reservation.status == "held" else { return reservation.json }
        return try await store.settle(reservation, as: input.expired == true ? "expired" : "released").json
    }
}

extension StockLine {
    /// Lines with one entry per SKU (quantities added), checked.
    static func merged(_ lines: [StockLine]) throws -> [StockLine] {
        guard !lines.isEmpty else { throw CommerceError.invalidOrder("items must list at least one {sku, quantity}") }
        var quantities: [String: Int] = [:]
        for line in lines {
            guard (1...100).contains(line.sku.utf8.count) else { throw CommerceError.invalidOrder("a SKU must have 1 to 100 bytes") }
            guard line.quantity > 0, line.quantity <= 1_000_000 else {
                throw CommerceError.invalidOrder("quantity of \(line.sku) must be a whole number from 1 to 1000000")
            }
            quantities[line.sku, default: 0] += line.quantity
        }
        return quantities.keys.sorted().map { StockLine(sku: $0, quantity: quantities[$0]!) }
    }
}
