import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Orchestrator

/// Stripe's HTTP API through AsyncHTTPClient: form-encoded requests with the secret key as bearer,
/// `Idempotency-Key` on every mutating call, errors mapped by `StripeError`, objects decoded leniently.
public struct StripeClient: PaymentGateway {
    let http: HTTPClient
    let baseURL: String
    let apiKey: String

    public init(http: HTTPClient, baseURL: String, apiKey: String) {
        self.http = http
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.apiKey = apiKey
    }

    public func authorize(_ request: AuthorizationRequest, idempotencyKey: String) async throws -> PaymentIntent {
        var form = FormEncoding([
            ("amount", String(request.amount)), ("currency", request.currency), ("payment_method", request.paymentMethod),
            ("capture_method", "manual"), ("confirm", "true"),
        ])
        for (key, value) in request.metadata.sorted(by: { $0.key < $1.key }) { form.add("metadata[\(key)]", value) }
        return try await send(.POST, "/v1/payment_intents", form: form, idempotencyKey: idempotencyKey, operation: "authorize")
    }

    public func retrieve(paymentIntent id: String) async throws -> PaymentIntent {
        try await send(.GET, "/v1/payment_intents/\(FormEncoding.escape(id))", operation: "retrieve payment")
    }

    public func capture(paymentIntent id: String, amount: Int?, idempotencyKey: String) async throws -> PaymentIntent {
        try await send(.POST, "/v1/payment_intents/\(FormEncoding.escape(id))/capture",
                       form: FormEncoding([("amount_to_capture", amount.map(String.init))]), idempotencyKey: idempotencyKey, operation: "capture")
    }

    public func cancel(paymentIntent id: String, idempotencyKey: String) async throws -> PaymentIntent {
        do {
            return try await send(.POST, "/v1/payment_intents/\(FormEncoding.escape(id))/cancel", form: FormEncoding(), idempotencyKey: idempotencyKey, operation: "cancel payment")
        } catch let error as ActivityError where !error.retryable {
            // Cancelling twice (a retry after a lost answer, or a compensation after Stripe's own
            // cancellation) is refused by Stripe: answer with the intent as it stands if it is cancelled.
            let current = try await retrieve(paymentIntent: id)
            if current.status == "canceled" { return current }
            throw error
        }
    }

    public func refund(paymentIntent id: String, amount: Int, reason: String?, metadata: [String: String], idempotencyKey: String) async throws -> Refund {
        var form = FormEncoding([("payment_intent", id), ("amount", String(amount))])
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) { form.add("metadata[\(key)]", value) }
        // Stripe's `reason` is an enum (duplicate, fraudulent, requested_by_customer); ours is free text, kept in metadata.
        form.add("metadata[reason]", reason)
        return try await send(.POST, "/v1/refunds", form: form, idempotencyKey: idempotencyKey, operation: "refund")
    }

    public func balanceTransactions(from: Date, to: Date, startingAfter: String?, limit: Int) async throws -> BalanceTransactionPage {
        let query = FormEncoding([
            ("created[gte]", String(Int(from.timeIntervalSince1970))), ("created[lt]", String(Int(to.timeIntervalSince1970))),
            ("limit", String(limit)), ("starting_after", startingAfter),
        ])
        let page: ListPage<BalanceTransaction> = try await send(.GET, "/v1/balance_transactions?\(query.encoded)", operation: "list balance transactions")
        return BalanceTransactionPage(items: page.data, hasMore: page.hasMore)
    }

    struct ListPage<Item: Decodable>: Decodable {
        var data: [Item]
        var hasMore: Bool
        enum CodingKeys: String, CodingKey {
            case data
            case hasMore = "has_more"
        }
    }

    private func send<T: Decodable>(_ method: HTTPMethod, _ path: String, form: FormEncoding? = nil, idempotencyKey: String? = nil, operation: String) async throws -> T {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
        request.headers.add(name: "Stripe-Version", value: Self.apiVersion)
        if let idempotencyKey { request.headers.add(name: "Idempotency-Key", value: idempotencyKey) }
        if let form {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: form.encoded))
        }
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await http.execute(request, timeout: .seconds(30))
            bytes = try await response.body.collect(upTo: 4 << 20)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw ActivityError(code: "stripe.connection", message: "\(operation): Stripe could not be reached: \(error)")
        }
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            let body = (try? JSONValue(json: String(buffer: bytes))) ?? .emptyObject
            throw StripeError.activityError(
                status: status, body: body, retryAfter: HTTPActivity.retryAfter(response.headers.first(name: "Retry-After")), operation: operation)
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes.readableBytesView))
        } catch {
            throw ActivityError(code: "stripe.unexpected_response", message: "\(operation): Stripe's answer could not be read: \(error)")
        }
    }

    /// The API version these requests and decoders were written for.
    static let apiVersion = "2024-06-20"
}
