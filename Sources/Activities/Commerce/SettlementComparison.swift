import Orchestrator

/// The pure comparison of a day's settlement: what Stripe moved (balance transactions) against
/// what we recorded (captures by charge id, refunds by refund id).
public struct SettlementComparison: Sendable {
    /// Money we recorded moving: a capture (`charge`, positive) or a refund (`refund`, its amount positive).
    public struct Movement: Sendable, Hashable {
        public var reference: String
        public var amount: Int64
    }

    public struct Discrepancy: Sendable, Hashable {
        public enum Kind: String, Sendable { case missingInStripe = "missing_in_stripe", missingInOrchestrator = "missing_in_orchestrator", amountMismatch = "amount_mismatch" }
        public var kind: Kind
        public var reference: String
        /// Ours.
        public var expected: Int64?
        /// Stripe's.
        public var actual: Int64?
        public var detail: String

        public var json: JSONValue {
            [
                "kind": .string(kind.rawValue), "reference": .string(reference),
                "expected": expected.map { .number(Double($0)) } ?? .null, "actual": actual.map { .number(Double($0)) } ?? .null,
                "detail": .string(detail),
            ]
        }
    }

    /// Every difference: a transaction we have no record of, a record Stripe has no transaction
    /// of, and amounts that differ (refunds compared by their size). Fees and other types count
    /// as neither side's.
    public static func discrepancies(stripe: [BalanceTransaction], recorded: [Movement]) -> [Discrepancy] {
        var ours = Dictionary(recorded.map { ($0.reference, $0.amount) }, uniquingKeysWith: +)
        var found: [Discrepancy] = []
        for transaction in stripe where ["charge", "payment", "refund"].contains(transaction.type) {
            guard let source = transaction.source else { continue }
            let amount = Int64(abs(transaction.amount))
            guard let expected = ours.removeValue(forKey: source) else {
                found.append(Discrepancy(kind: .missingInOrchestrator, reference: source, expected: nil, actual: amount,
                                         detail: "Stripe's \(transaction.type) \(transaction.id) of \(amount) has no record here"))
                continue
            }
            if expected != amount {
                found.append(Discrepancy(kind: .amountMismatch, reference: source, expected: expected, actual: amount,
                                         detail: "recorded \(expected), Stripe's \(transaction.type) \(transaction.id) moved \(amount)"))
            }
        }
        for (reference, amount) in ours.sorted(by: { $0.key < $1.key }) {
            found.append(Discrepancy(kind: .missingInStripe, reference: reference, expected: amount, actual: nil,
                                     detail: "recorded \(amount) for \(reference), which Stripe did not move that day"))
        }
        return found
    }
}
