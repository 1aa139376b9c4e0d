import Foundation
import Orchestrator

/// The payment provider as the commerce activities see it: Stripe's API (`StripeClient`), or the
/// local development stand-in (`LocalPaymentGateway`) when no Stripe key is configured.
///
/// Every mutating call carries the task's idempotency key, so a retried attempt does the work once
/// where the provider dedupes. Failures are `ActivityError`s (see `StripeError`).
public protocol PaymentGateway: Sendable {
    /// Creates and confirms a PaymentIntent with manual capture.
    func authorize(_ request: AuthorizationRequest, idempotencyKey: String) async throws -> PaymentIntent
    func retrieve(paymentIntent id: String) async throws -> PaymentIntent
    func capture(paymentIntent id: String, amount: Int?, idempotencyKey: String) async throws -> PaymentIntent
    /// Cancels an uncaptured PaymentIntent; one already cancelled is answered as it is.
    func cancel(paymentIntent id: String, idempotencyKey: String) async throws -> PaymentIntent
    func refund(paymentIntent id: String, amount: Int, reason: String?, metadata: [String: String], idempotencyKey: String) async throws -> Refund
    /// One page of balance transactions created in `[from, to)`, oldest first after `startingAfter`.
    func balanceTransactions(from: Date, to: Date, startingAfter: String?, limit: Int) async throws -> BalanceTransactionPage
}

public struct AuthorizationRequest: Sendable, Hashable {
    public var amount: Int
    public var currency: String
    public var paymentMethod: String
    public var metadata: [String: String]
    public init(amount: Int, currency: String, paymentMethod: String, metadata: [String: String]) {
        self.amount = amount
        self.currency = currency
        self.paymentMethod = paymentMethod
        self.metadata = metadata
    }
}

/// The fields of Stripe's PaymentIntent the workflows use; everything else is ignored.
public struct PaymentIntent: Sendable, Hashable, Codable {
    public var id: String
    /// `requires_capture`, `requires_action`, `succeeded`, `canceled`, `requires_payment_method`, `processing`…
    public var status: String
    public var amount: Int
    public var amountCapturable: Int?
    public var amountReceived: Int?
    public var currency: String?
    public var clientSecret: String?
    public var latestCharge: String?
    public var lastPaymentError: PaymentError?

    public struct PaymentError: Sendable, Hashable, Codable {
        public var code: String?
        public var message: String?
    }

    enum CodingKeys: String, CodingKey {
        case id, status, amount, currency
        case amountCapturable = "amount_capturable"
        case amountReceived = "amount_received"
        case clientSecret = "client_secret"
        case latestCharge = "latest_charge"
        case lastPaymentError = "last_payment_error"
    }

    public init(id: String, status: String, amount: Int, currency: String?, clientSecret: String? = nil) {
        self.id = id
        self.status = status
        self.amount = amount
        self.currency = currency
        self.clientSecret = clientSecret
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        status = try container.decode(String.self, forKey: .status)
        amount = try container.decode(Int.self, forKey: .amount)
        amountCapturable = try? container.decodeIfPresent(Int.self, forKey: .amountCapturable)
        amountReceived = try? container.decodeIfPresent(Int.self, forKey: .amountReceived)
        currency = try? container.decodeIfPresent(String.self, forKey: .currency)
        clientSecret = try? container.decodeIfPresent(String.self, forKey: .clientSecret)
        // `latest_charge` is an id, or the charge itself when expanded (localstripe expands it).
        latestCharge = (try? container.decodeIfPresent(String.self, forKey: .latestCharge))
            ?? (try? container.decodeIfPresent(ExpandedObject.self, forKey: .latestCharge))?.id
        lastPaymentError = try? container.decodeIfPresent(PaymentError.self, forKey: .lastPaymentError)
    }

    struct ExpandedObject: Decodable { var id: String }
}

public struct Refund: Sendable, Hashable, Codable {
    public var id: String
    public var amount: Int
    public var status: String?
}

public struct BalanceTransaction: Sendable, Hashable, Codable {
    public var id: String
    public var amount: Int
    public var currency: String
    /// `charge`, `refund`, `payment`, …
    public var type: String
    public var created: Int
    /// The charge or refund id this transaction moved money for.
    public var source: String?
}

public struct BalanceTransactionPage: Sendable, Hashable {
    public var items: [BalanceTransaction]
    public var hasMore: Bool
}
