import Foundation
import Logging
import Orchestrator
import PostgresNIO

/// All SQL of the commerce schema, run on the connection it is given: an activity's transaction
/// (so its writes commit with the task's outcome) or a route's.
public struct CommerceStore: Sendable {
    let connection: PostgresConnection
    let logger: Logger

    public init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    /// The database's time (the engine's clock follows it).
    func now() async throws -> Date {
        for try await now in try await connection.query("SELECT clock_timestamp()", logger: logger).decode(Date.self) { return now }
        throw OrchestratorError(.database, "clock_timestamp() returned no row")
    }

    static func timestamp(_ date: Date?) -> JSONValue {
        guard let date else { return .null }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return .string(formatter.string(from: date))
    }
}

// MARK: - Inventory and reservations

public struct StockLevel: Sendable, Hashable {
    public var sku: String
    public var onHand: Int
    public var reserved: Int
    public var available: Int { onHand - reserved }

    public var json: JSONValue {
        ["sku": .string(sku), "on_hand": .number(Double(onHand)), "reserved": .number(Double(reserved)), "available": .number(Double(available))]
    }
}

struct Reservation: Sendable {
    var id: String
    var orderID: String
    var status: String
    var expiresAt: Date?
    var lines: [StockLine]

    var json: JSONValue {
        [
            "reservation_id": .string(id), "order_id": .string(orderID), "status": .string(status),
            "expires_at": CommerceStore.timestamp(expiresAt),
            "items": .array(lines.map { ["sku": .string($0.sku), "quantity": .number(Double($0.quantity))] }),
        ]
    }
}

extension CommerceStore {
    public func stock(_ sku: String) async throws -> StockLevel? {
        let rows = try await connection.query("SELECT on_hand, reserved FROM commerce.inventory WHERE sku = \(sku)", logger: logger)
        for try await (onHand, reserved) in rows.decode((Int32, Int32).self) {
            return StockLevel(sku: sku, onHand: Int(onHand), reserved: Int(reserved))
        }
        return nil
    }

    public enum StockChange: Sendable {
        case set(StockLevel)
        /// `on_hand` would fall under what is reserved.
        case belowReserved(reserved: Int)
    }

    /// Sets `on_hand` (creating the SKU), refusing to go under what is reserved.
    public func setStock(_ sku: String, onHand: Int) async throws -> StockChange {
        let rows = try await connection.query(
            """
            INSERT INTO commerce.inventory AS i (sku, on_hand) VALUES (\(sku), \(Int32(onHand)))
            ON CONFLICT (sku) DO UPDATE SET on_hand = excluded.on_hand, updated_at = now()
                WHERE i.reserved <= excluded.on_hand
            RETURNING on_hand, reserved
            """, logger: logger)
        for try await (onHand, reserved) in rows.decode((Int32, Int32).self) {
            return .set(StockLevel(sku: sku, onHand: Int(onHand), reserved: Int(reserved)))
        }
        return .belowReserved(reserved: try await stock(sku)?.reserved ?? 0)
    }

    /// Adds `quantity` to `on_hand` (creating the SKU); returns the level before and after.
    func addStock(_ sku: String, quantity: Int) async throws -> (before: Int, after: StockLevel) {
        let rows = try await connection.query(
            """
            WITH before AS (SELECT on_hand FROM commerce.inventory WHERE sku = \(sku) FOR UPDATE)
            INSERT INTO commerce.inventory AS i (sku, on_hand) VALUES (\(sku), \(Int32(quantity)))
            ON CONFLICT (sku) DO UPDATE SET on_hand = i.on_hand + excluded.on_hand, updated_at = now()
            RETURNING coalesce((SELECT on_hand FROM before), 0), on_hand, reserved
            """, logger: logger)
        for try await (before, onHand, reserved) in rows.decode((Int32, Int32, Int32).self) {
            return (Int(before), StockLevel(sku: sku, onHand: Int(onHand), reserved: Int(reserved)))
        }
        throw OrchestratorError(.database, "adding stock to \(sku) returned no row")
    }

    struct Shortage { var sku: String, wanted: Int, available: Int }

    /// Reserves every line or none: the SKUs' rows are locked in SKU order (so concurrent
    /// reservations never deadlock), checked, then reserved together.
    func reserve(_ lines: [StockLine]) async throws -> [Shortage] {
        let skus = lines.map(\.sku)
        let rows = try await connection.query(
            "SELECT sku, on_hand - reserved FROM commerce.inventory WHERE sku = ANY(\(skus)::text[]) ORDER BY sku FOR UPDATE",
            logger: logger)
        var available: [String: Int] = [:]
        for try await (sku, free) in rows.decode((String, Int32).self) { available[sku] = Int(free) }
        let shortages = lines.compactMap { line in
            (available[line.sku] ?? 0) < line.quantity ? Shortage(sku: line.sku, wanted: line.quantity, available: available[line.sku] ?? 0) : nil
        }
        guard shortages.isEmpty else { return shortages }
        try await connection.query(
            """
            UPDATE commerce.inventory AS i SET reserved = i.reserved + l.quantity, updated_at = now()
            FROM unnest(\(skus)::text[], \(lines.map { Int32($0.quantity) })::int4[]) AS l(sku, quantity)
            WHERE i.sku = l.sku
            """, logger: logger)
        return []
    }

    func insertReservation(id: String, orderID: String, lines: [StockLine], expiresAt: Date?) async throws -> Reservation {
        try await connection.query(
            """
            WITH reservation AS (
                INSERT INTO commerce.reservations (id, order_id, status, expires_at) VALUES (\(id), \(orderID), 'held', \(expiresAt))
                RETURNING id)
            INSERT INTO commerce.reservation_lines (reservation_id, sku, quantity)
            SELECT (SELECT id FROM reservation), l.sku, l.quantity
            FROM unnest(\(lines.map(\.sku))::text[], \(lines.map { Int32($0.quantity) })::int4[]) AS l(sku, quantity)
            """, logger: logger)
        return Reservation(id: id, orderID: orderID, status: "held", expiresAt: expiresAt, lines: lines)
    }

    /// The reservation, its row locked until the transaction ends; read after the lock.
    func lockReservation(_ id: String) async throws -> Reservation? {
        for try await _ in try await connection.query("SELECT 1 FROM commerce.reservations WHERE id = \(id) FOR UPDATE", logger: logger) {
            return try await reservation(id)
        }
        return nil
    }

    func reservation(_ id: String) async throws -> Reservation? {
        let rows = try await connection.query(
            "SELECT order_id, status, expires_at FROM commerce.reservations WHERE id = \(id)", logger: logger)
        var found: Reservation?
        for try await (orderID, status, expiresAt) in rows.decode((String, String, Date?).self) {
            found = Reservation(id: id, orderID: orderID, status: status, expiresAt: expiresAt, lines: [])
        }
        guard var reservation = found else { return nil }
        let lines = try await connection.query(
            "SELECT sku, quantity FROM commerce.reservation_lines WHERE reservation_id = \(id) ORDER BY sku", logger: logger)
        for try await (sku, quantity) in lines.decode((String, Int32).self) { reservation.lines.append(StockLine(sku: sku, quantity: Int(quantity))) }
        return reservation
    }

    /// Ends a held reservation: `committed` takes its stock out of the shop, `released` and
    /// `expired` give it back. The caller holds the reservation's row lock.
    func settle(_ reservation: Reservation, as status: String) async throws -> Reservation {
        let leaves = status == "committed"
        // Stock rows are locked in SKU order, as `reserve` does, so the two never deadlock.
        try await connection.query(
            "SELECT 1 FROM commerce.inventory WHERE sku = ANY(\(reservation.lines.map(\.sku))::text[]) ORDER BY sku FOR UPDATE", logger: logger)
        try await connection.query(
            """
            UPDATE commerce.inventory AS i SET reserved = i.reserved - l.quantity,
                on_hand = CASE WHEN \(leaves) THEN i.on_hand - l.quantity ELSE i.on_hand END, updated_at = now()
            FROM commerce.reservation_lines AS l
            WHERE l.reservation_id = \(reservation.id) AND i.sku = l.sku
            """, logger: logger)
        try await connection.query(
            "UPDATE commerce.reservations SET status = \(status), updated_at = now() WHERE id = \(reservation.id)", logger: logger)
        var settled = reservation
        settled.status = status
        return settled
    }
}

// MARK: - Stripe events

extension CommerceStore {
    public func stripeEventSeen(_ id: String) async throws -> Bool {
        for try await _ in try await connection.query("SELECT 1 FROM commerce.stripe_events WHERE id = \(id)", logger: logger) { return true }
        return false
    }

    /// Records a handled event (the first verdict stays).
    public func recordStripeEvent(id: String, type: String, verdict: String) async throws {
        try await connection.query(
            "INSERT INTO commerce.stripe_events (id, type, verdict) VALUES (\(id), \(type), \(verdict)) ON CONFLICT (id) DO NOTHING", logger: logger)
    }
}

// MARK: - Waitlist

extension CommerceStore {
    /// Adds a subscriber (again, if an earlier subscription was notified), or answers the one
    /// already waiting for that SKU at that address.
    public func subscribe(sku: String, channel: NotificationChannel, address: String) async throws -> (entry: JSONValue, created: Bool) {
        let rows = try await connection.query(
            """
            WITH inserted AS (
                INSERT INTO commerce.waitlist (sku, channel, address) VALUES (\(sku), \(channel.rawValue), \(address))
                ON CONFLICT (sku, channel, address) DO UPDATE SET notified_at = NULL, created_at = now()
                    WHERE commerce.waitlist.notified_at IS NOT NULL
                RETURNING id, created_at, notified_at, true AS created)
            SELECT id, created_at, notified_at, created FROM inserted
            UNION ALL
            SELECT id, created_at, notified_at, false FROM commerce.waitlist
            WHERE sku = \(sku) AND channel = \(channel.rawValue) AND address = \(address) AND NOT EXISTS (SELECT 1 FROM inserted)
            """, logger: logger)
        for try await (id, createdAt, notifiedAt, created) in rows.decode((Int64, Date, Date?, Bool).self) {
            let entry: JSONValue = [
                "id": .string(String(id)), "sku": .string(sku), "channel": .string(channel.rawValue), "address": .string(address),
                "created_at": Self.timestamp(createdAt), "notified_at": Self.timestamp(notifiedAt),
            ]
            return (entry, created)
        }
        throw OrchestratorError(.database, "subscribing to \(sku) returned no row")
    }
}
