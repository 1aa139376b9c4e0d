import Orchestrator

/// How a Stripe answer maps to an activity outcome.
///
/// Card errors (402, or `type: card_error`) and invalid requests (other 4xx) are final, with
/// Stripe's own `code` (`card_declined`, `expired_card`, `resource_missing`…) as ours; 409
/// (an idempotent request still in flight), 429, 5xx and connection failures are retried,
/// honoring `Retry-After`.
enum StripeError {
    static func activityError(status: Int, body: JSONValue, retryAfter: Duration?, operation: String) -> ActivityError {
        let error = body["error"] ?? .emptyObject
        let type = error["type"]?.stringValue
        let message = error["message"]?.stringValue ?? "Stripe answered \(status)"
        switch status {
        case 409, 429, 500...:
            return ActivityError(code: "stripe.\(status)", message: "\(operation): \(message)", retryable: true, retryAfter: retryAfter)
        case 402:
            return .nonRetryable(error["code"]?.stringValue ?? "card_declined", "\(operation): \(message)")
        case 401, 403:
            return .nonRetryable("stripe.authentication", "\(operation): Stripe refused the API key (\(status))")
        default:
            if type == "card_error" { return .nonRetryable(error["code"]?.stringValue ?? "card_declined", "\(operation): \(message)") }
            return .nonRetryable(error["code"]?.stringValue ?? "stripe.invalid_request", "\(operation): \(message)")
        }
    }
}
