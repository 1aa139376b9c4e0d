import Orchestrator

/// What the payment activities answer: a PaymentIntent as the workflows use it.
public struct PaymentSummary: Codable, Sendable, Hashable {
    public var paymentIntentID: String
    public var status: String
    public var amount: Int64
    public var amountCapturable: Int64?
    public var amountReceived: Int64?
    public var currency: String?
    /// For the shop's front end to complete 3-D Secure (`requires_action`).
    public var clientSecret: String?
    public var chargeID: String?
    public var errorCode: String?
    public var errorMessage: String?

    enum CodingKeys: String, CodingKey {
        case paymentIntentID = "payment_intent_id", status, amount, amountCapturable = "amount_capturable"
        case amountReceived = "amount_received", currency, clientSecret = "client_secret", chargeID = "charge_id"
        case errorCode = "error_code", errorMessage = "error_message"
    }

    init(_ intent: PaymentIntent) {
        paymentIntentID = intent.id
        status = intent.status
        amount = Int64(intent.amount)
        amountCapturable = intent.amountCapturable.map(Int64.init)
        amountReceived = intent.amountReceived.map(Int64.init)
        currency = intent.currency
        clientSecret = intent.clientSecret
        chargeID = intent.latestCharge
        errorCode = intent.lastPaymentError?.code
        errorMessage = intent.lastPaymentError?.message
    }
}

/// `payments.authorize`: creates and confirms a PaymentIntent with manual capture for the order,
/// the workflow id in its metadata (webhooks find their way back by it). Input `{order_id, amount,
/// currency, payment_method}`. A declined card fails with Stripe's code (`card_declined`…), final.
public struct AuthorizePayment: Activity {
    public static let name = "payments.authorize"

    public struct Input: Decodable, Sendable {
        var orderID: String
        var amount: Int
        var currency: String
        var paymentMethod: String
        enum CodingKeys: String, CodingKey { case orderID = "order_id", amount, currency, paymentMethod = "payment_method" }
    }

    let gateway: any PaymentGateway
    public init(gateway: any PaymentGateway) { self.gateway = gateway }

    public func run(_ input: Input, context: ActivityContext) async throws -> PaymentSummary {
        let request = AuthorizationRequest(
            amount: input.amount, currency: input.currency, paymentMethod: input.paymentMethod,
            metadata: ["workflow_id": context.workflowID, "order_id": input.orderID])
        return PaymentSummary(try await gateway.authorize(request, idempotencyKey: context.idempotencyKey))
    }
}

/// The input of an activity about one PaymentIntent: `{payment_intent_id}`.
public struct PaymentIntentReference: Decodable, Sendable {
    var paymentIntentID: String
    enum CodingKeys: String, CodingKey { case paymentIntentID = "payment_intent_id" }
}

/// `payments.retrieve`: the PaymentIntent as it stands. Input `{payment_intent_id}`.
public struct RetrievePayment: Activity {
    public static let name = "payments.retrieve"

    public typealias Input = PaymentIntentReference

    let gateway: any PaymentGateway
    public init(gateway: any PaymentGateway) { self.gateway = gateway }

    public func run(_ input: Input, context: ActivityContext) async throws -> PaymentSummary {
        PaymentSummary(try await gateway.retrieve(paymentIntent: input.paymentIntentID))
    }
}

/// `payments.capture`: captures an authorized PaymentIntent (all of it, or `amount`). Capturing
/// one already captured answers it as it stands. Input `{payment_intent_id, amount?}`.
public struct CapturePayment: Activity {
    public static let name = "payments.capture"

    public struct Input: Decodable, Sendable {
        var paymentIntentID: String
        var amount: Int?
        enum CodingKeys: String, CodingKey { case paymentIntentID = "payment_intent_id", amount }
    }

    let gateway: any PaymentGateway
    public init(gateway: any PaymentGateway) { self.gateway = gateway }

    public func run(_ input: Input, context: ActivityContext) async throws -> PaymentSummary {
        do {
            return PaymentSummary(try await gateway.capture(paymentIntent: input.paymentIntentID, amount: input.amount, idempotencyKey: context.idempotencyKey))
        } catch let error as ActivityError where !error.retryable {
            // A retry after a capture whose answer was lost: Stripe refuses the second capture.
            let current = try await gateway.retrieve(paymentIntent: input.paymentIntentID)
            if current.status == "succeeded" { return PaymentSummary(current) }
            throw error
        }
    }
}

/// `payments.cancel`: cancels the authorization (the compensation of `payments.authorize`).
/// Cancelling a cancelled PaymentIntent answers it as it stands. Input `{payment_intent_id}`.
public struct CancelPayment: Activity {
    public static let name = "payments.cancel"

    public typealias Input = PaymentIntentReference

    let gateway: any PaymentGateway
    public init(gateway: any PaymentGateway) { self.gateway = gateway }

    public func run(_ input: Input, context: ActivityContext) async throws -> PaymentSummary {
        PaymentSummary(try await gateway.cancel(paymentIntent: input.paymentIntentID, idempotencyKey: context.idempotencyKey))
    }
}

/// `payments.refund`: refunds `amount` of the order's PaymentIntent, the refund's id in Stripe's
/// metadata. Input `{payment_intent_id, amount, refund_id, reason}`; output `{id, amount, status}`.
public struct RefundPayment: Activity {
    public static let name = "payments.refund"

    public struct Input: Decodable, Sendable {
        var paymentIntentID: String
        var amount: Int
        var refundID: String
        var reason: String?
        enum CodingKeys: String, CodingKey { case paymentIntentID = "payment_intent_id", amount, refundID = "refund_id", reason }
    }

    let gateway: any PaymentGateway
    public init(gateway: any PaymentGateway) { self.gateway = gateway }

    public func run(_ input: Input, context: ActivityContext) async throws -> Refund {
        try await gateway.refund(
            paymentIntent: input.paymentIntentID, amount: input.amount, reason: input.reason,
            metadata: ["workflow_id": context.workflowID, "refund_id": input.refundID], idempotencyKey: context.idempotencyKey)
    }
}
