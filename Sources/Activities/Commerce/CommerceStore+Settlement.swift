import Foundation
import Orchestrator
import PostgresNIO

extension CommerceStore {
    /// The captures (by charge id) and succeeded refunds (by Stripe refund id) recorded in `[from, to)`.
    func recordedMovements(from: Date, to: Date) async throws -> [SettlementComparison.Movement] {
        let rows = try await connection.query(
            """
            SELECT charge_id, captured_amount FROM commerce.orders
            WHERE captured_at >= \(from) AND captured_at < \(to) AND charge_id IS NOT NULL
            UNION ALL
            SELECT stripe_refund_id, amount FROM commerce.refunds
            WHERE status = 'succeeded' AND succeeded_at >= \(from) AND succeeded_at < \(to) AND stripe_refund_id IS NOT NULL
            """, logger: logger)
        var movements: [SettlementComparison.Movement] = []
        for try await (reference, amount) in rows.decode((String, Int64).self) {
            movements.append(.init(reference: reference, amount: amount))
        }
        return movements
    }

    /// Records a day's run and its discrepancies; one already recorded for the day is not recorded
    /// again. Returns how many are new.
    func recordSettlement(date: String, transactions: Int, discrepancies: [SettlementComparison.Discrepancy]) async throws -> Int {
        try await connection.query(
            """
            INSERT INTO commerce.settlement_runs (date, transactions, discrepancies) VALUES (\(date)::date, \(Int32(transactions)), \(Int32(discrepancies.count)))
            ON CONFLICT (date) DO UPDATE SET transactions = excluded.transactions, discrepancies = excluded.discrepancies,
                ran_at = now(), runs = commerce.settlement_runs.runs + 1
            """, logger: logger)
        var new = 0
        for discrepancy in discrepancies {
            let rows = try await connection.query(
                """
                INSERT INTO commerce.settlement_discrepancies (date, kind, reference, expected, actual, detail)
                VALUES (\(date)::date, \(discrepancy.kind.rawValue), \(discrepancy.reference), \(discrepancy.expected), \(discrepancy.actual), \(discrepancy.detail))
                ON CONFLICT (date, kind, reference) DO NOTHING
                RETURNING 1
                """, logger: logger)
            for try await _ in rows { new += 1 }
        }
        return new
    }

    /// The discrepancies recorded for `date` (`YYYY-MM-DD`), oldest first.
    public func settlementDiscrepancies(date: String) async throws -> [JSONValue] {
        let rows = try await connection.query(
            """
            SELECT kind, reference, expected, actual, detail, recorded_at FROM commerce.settlement_discrepancies
            WHERE date = \(date)::date ORDER BY id
            """, logger: logger)
        var found: [JSONValue] = []
        for try await (kind, reference, expected, actual, detail, recordedAt) in rows.decode((String, String, Int64?, Int64?, String, Date).self) {
            found.append([
                "kind": .string(kind), "reference": .string(reference), "expected": expected.map { .number(Double($0)) } ?? .null,
                "actual": actual.map { .number(Double($0)) } ?? .null, "detail": .string(detail), "recorded_at": Self.timestamp(recordedAt),
            ])
        }
        return found
    }
}
