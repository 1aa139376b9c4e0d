import Foundation
import Orchestrator

/// The local development stand-in for Stripe, used when `STRIPE_API_KEY` is not set, so a new
/// user walks every checkout path without an account. It honours Stripe's test payment methods:
/// `pm_card_visa` (and other `pm_card_…` brands) authorize; `pm_card_chargeDeclined` is declined
/// (`card_declined`), `pm_card_chargeDeclinedInsufficientFunds` too (`insufficient_funds`);
/// `pm_card_threeDSecure2Required` needs 3-D Secure, completed (or failed) by
/// `POST /v1/dev/payment_intents/{id}/authenticate`, which then plays the webhook Stripe would send.
///
/// It keeps its objects in memory: a restarted server forgets them. Tests use localstripe.
public actor LocalPaymentGateway: PaymentGateway {
    struct Intent {
        var intent: PaymentIntent
        var metadata: [String: String]
        var refunded = 0
        var createdAt: Date
    }

    private var intents: [String: Intent] = [:]
    private var byIdempotencyKey: [String: String] = [:]
    private var refunds: [String: (refund: Refund, key: String?)] = [:]
    private var transactions: [BalanceTransaction] = []

    public init() {}

    public func authorize(_ request: AuthorizationRequest, idempotencyKey: String) throws -> PaymentIntent {
        if let id = byIdempotencyKey[idempotencyKey], let existing = intents[id] { return existing.intent }
        guard request.amount > 0 else { throw StripeError.activityError(status: 400, body: Self.error("amount_too_small", "Amount must be at least 1"), retryAfter: nil, operation: "authorize") }
        let id = "pi_local_\(Self.randomID())"
        var intent = PaymentIntent(id: id, status: "requires_capture", amount: request.amount, currency: request.currency, clientSecret: "\(id)_secret_\(Self.randomID())")
        switch request.paymentMethod {
        case "pm_card_chargeDeclined":
            throw StripeError.activityError(status: 402, body: Self.error("card_declined", "Your card was declined."), retryAfter: nil, operation: "authorize")
        case "pm_card_chargeDeclinedInsufficientFunds":
            throw StripeError.activityError(status: 402, body: Self.error("insufficient_funds", "Your card has insufficient funds."), retryAfter: nil, operation: "authorize")
        case "pm_card_threeDSecure2Required":
            intent.status = "requires_action"
        case let method where method.hasPrefix("pm_card_"):
            intent.amountCapturable = request.amount
        default:
            throw StripeError.activityError(status: 400, body: Self.error("resource_missing", "No such PaymentMethod: '\(request.paymentMethod)'"), retryAfter: nil, operation: "authorize")
        }
        intents[id] = Intent(intent: intent, metadata: request.metadata, createdAt: Date())
        byIdempotencyKey[idempotencyKey] = id
        return intent
    }

    public func retrieve(paymentIntent id: String) throws -> PaymentIntent {
        try stored(id, operation: "retrieve payment").intent
    }

    public func capture(paymentIntent id: String, amount: Int?, idempotencyKey: String) throws -> PaymentIntent {
        var stored = try stored(id, operation: "capture")
        guard stored.intent.status == "requires_capture" else {
            throw Self.unexpectedState(stored.intent, operation: "capture")
        }
        let captured = min(amount ?? stored.intent.amount, stored.intent.amount)
        stored.intent.status = "succeeded"
        stored.intent.amountCapturable = 0
        stored.intent.amountReceived = captured
        stored.intent.latestCharge = "ch_local_\(Self.randomID())"
        intents[id] = stored
        transactions.append(BalanceTransaction(
            id: "txn_local_\(Self.randomID())", amount: captured, currency: stored.intent.currency ?? "usd", type: "charge",
            created: Int(Date().timeIntervalSince1970), source: stored.intent.latestCharge))
        return stored.intent
    }

    public func cancel(paymentIntent id: String, idempotencyKey: String) throws -> PaymentIntent {
        var stored = try stored(id, operation: "cancel payment")
        switch stored.intent.status {
        case "canceled": return stored.intent
        case "succeeded", "processing": throw Self.unexpectedState(stored.intent, operation: "cancel payment")
        default:
            stored.intent.status = "canceled"
            stored.intent.amountCapturable = 0
            intents[id] = stored
            return stored.intent
        }
    }

    public func refund(paymentIntent id: String, amount: Int, reason: String?, metadata: [String: String], idempotencyKey: String) throws -> Refund {
        if let existing = refunds.values.first(where: { $0.key == idempotencyKey }) { return existing.refund }
        var stored = try stored(id, operation: "refund")
        let refundable = (stored.intent.amountReceived ?? 0) - stored.refunded
        guard stored.intent.status == "succeeded", amount > 0, amount <= refundable else {
            throw StripeError.activityError(status: 400, body: Self.error("amount_too_large", "Refund amount (\(amount)) is greater than what is left to refund (\(refundable))."), retryAfter: nil, operation: "refund")
        }
        stored.refunded += amount
        intents[id] = stored
        let refund = Refund(id: "re_local_\(Self.randomID())", amount: amount, status: "succeeded")
        refunds[refund.id] = (refund, idempotencyKey)
        transactions.append(BalanceTransaction(
            id: "txn_local_\(Self.randomID())", amount: -amount, currency: stored.intent.currency ?? "usd", type: "refund",
            created: Int(Date().timeIntervalSince1970), source: refund.id))
        return refund
    }

    public func balanceTransactions(from: Date, to: Date, startingAfter: String?, limit: Int) -> BalanceTransactionPage {
        let range = Int(from.timeIntervalSince1970)..<Int(to.timeIntervalSince1970)
        var matching = transactions.filter { range.contains($0.created) }
        if let startingAfter, let index = matching.firstIndex(where: { $0.id == startingAfter }) {
            matching = Array(matching[(index + 1)...])
        }
        return BalanceTransactionPage(items: Array(matching.prefix(limit)), hasMore: matching.count > limit)
    }

    /// Completes (or fails) the 3-D Secure step of a `requires_action` PaymentIntent, as the
    /// customer would in their bank's page. Returns the intent and the workflow in its metadata.
    public func authenticate(paymentIntent id: String, success: Bool) throws -> (intent: PaymentIntent, workflowID: String?) {
        var stored = try stored(id, operation: "authenticate")
        guard stored.intent.status == "requires_action" else { throw Self.unexpectedState(stored.intent, operation: "authenticate") }
        if success {
            stored.intent.status = "requires_capture"
            stored.intent.amountCapturable = stored.intent.amount
        } else {
            stored.intent.status = "requires_payment_method"
            stored.intent.lastPaymentError = .init(code: "payment_intent_authentication_failure", message: "The provided PaymentMethod has failed authentication.")
        }
        intents[id] = stored
        return (stored.intent, stored.metadata["workflow_id"])
    }

    private func stored(_ id: String, operation: String) throws -> Intent {
        guard let stored = intents[id] else {
            throw StripeError.activityError(status: 404, body: Self.error("resource_missing", "No such payment_intent: '\(id)'"), retryAfter: nil, operation: operation)
        }
        return stored
    }

    private static func unexpectedState(_ intent: PaymentIntent, operation: String) -> ActivityError {
        StripeError.activityError(
            status: 400, body: error("payment_intent_unexpected_state", "This PaymentIntent's status is \(intent.status)."), retryAfter: nil, operation: operation)
    }

    private static func error(_ code: String, _ message: String) -> JSONValue {
        ["error": ["type": "invalid_request_error", "code": .string(code), "message": .string(message)]]
    }

    private static func randomID() -> String {
        String(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16))
    }
}
