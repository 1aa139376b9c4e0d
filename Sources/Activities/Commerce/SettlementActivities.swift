import Foundation
import Orchestrator
import PostgresNIO

/// A settlement day, `YYYY-MM-DD` in UTC, and its bounds.
public struct SettlementDay: Sendable {
    public let text: String
    let start: Date
    var end: Date { start.addingTimeInterval(86_400) }

    static let formatter: DateFormatter = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter
    }()

    /// `text`, or the day before `now` when it is absent.
    public init(_ text: String?, now: Date) throws {
        guard let text else {
            let yesterday = now.addingTimeInterval(-86_400)
            self.text = Self.formatter.string(from: yesterday)
            self.start = Self.formatter.date(from: self.text)!
            return
        }
        guard text.count == 10, text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-") }), let start = Self.formatter.date(from: text) else {
            throw ActivityError.nonRetryable("settlement.invalid_date", "date '\(text)' is not a day such as 2026-11-24")
        }
        self.text = text
        self.start = start
    }
}

/// `settlement.fetch`: Stripe's balance transactions created on a day (UTC), every page
/// (`starting_after`). Input `{date?}` (default: yesterday); output `{date, transactions: [{id,
/// type, amount, currency, source, created}]}`.
public struct FetchSettlement: Activity {
    public static let name = "settlement.fetch"

    public struct Input: Decodable, Sendable {
        var date: String?
    }

    let gateway: any PaymentGateway
    public init(gateway: any PaymentGateway) { self.gateway = gateway }

    public func run(_ input: Input, context: ActivityContext) async throws -> JSONValue {
        let day = try SettlementDay(input.date, now: Date())
        var transactions: [BalanceTransaction] = []
        var after: String?
        repeat {
            let page = try await gateway.balanceTransactions(from: day.start, to: day.end, startingAfter: after, limit: 100)
            transactions += page.items
            after = page.hasMore ? page.items.last?.id : nil
        } while after != nil
        return ["date": .string(day.text), "transactions": try JSONValue(encoding: transactions)]
    }
}

/// `settlement.reconcile`: compares the day's transactions with the captures and refunds recorded
/// that day (`SettlementComparison`) and records the run and each discrepancy once. Input `{date,
/// transactions}`; output `{date, transactions, discrepancies, new, items}`.
public struct ReconcileSettlement: TransactionalActivity {
    public static let name = "settlement.reconcile"

    public struct Input: Decodable, Sendable {
        var date: String
        var transactions: [BalanceTransaction]
    }

    public init() {}

    public func run(_ input: Input, context: ActivityContext, connection: PostgresConnection) async throws -> JSONValue {
        let day = try SettlementDay(input.date, now: Date())
        let store = CommerceStore(connection: connection, logger: context.logger)
        let recorded = try await store.recordedMovements(from: day.start, to: day.end)
        let discrepancies = SettlementComparison.discrepancies(stripe: input.transactions, recorded: recorded)
        let new = try await store.recordSettlement(date: day.text, transactions: input.transactions.count, discrepancies: discrepancies)
        return [
            "date": .string(day.text), "transactions": .number(Double(input.transactions.count)),
            "discrepancies": .number(Double(discrepancies.count)), "new": .number(Double(new)), "items": .array(discrepancies.map(\.json)),
        ]
    }
}

/// `notify.ops`: emails ops (`ORCHESTRATOR_OPS_EMAIL`) a `MessageTemplate`. Input `{template,
/// facts}`; with no ops address configured, the message is only logged.
public struct NotifyOps: Activity {
    public static let name = "notify.ops"

    public struct Input: Decodable, Sendable {
        var template: MessageTemplate
        var facts: JSONValue?
    }

    let email: any Notifier
    let address: String?

    public init(email: any Notifier, address: String?) {
        self.email = email
        self.address = address
    }

    public func run(_ input: Input, context: ActivityContext) async throws -> JSONValue {
        let (subject, text) = input.template.render(input.facts ?? .emptyObject)
        guard let address else {
            context.logger.warning("ops not emailed: ORCHESTRATOR_OPS_EMAIL is not set", metadata: ["subject": "\(subject)"])
            return ["sent": []]
        }
        let messageID = try await email.send(OutgoingMessage(to: address, subject: subject, text: text), idempotencyKey: context.idempotencyKey, logger: context.logger)
        return ["sent": [["channel": "email", "to": .string(address), "provider": .string(email.provider), "message_id": .string(messageID)]]]
    }
}
