import Foundation
import Orchestrator

/// The customer and ops messages the commerce workflows send, by name. A workflow passes a
/// template name and the facts; the wording lives here, in one place.
public enum MessageTemplate: String, Sendable, CaseIterable, Decodable {
    case orderConfirmed = "order_confirmed"
    case paymentDeclined = "payment_declined"
    case paymentReminder = "payment_reminder"
    case paymentActionRequired = "payment_action_required"
    case orderFailed = "order_failed"
    case orderCancelled = "order_cancelled"
    case refundIssued = "refund_issued"
    case returnOpened = "return_opened"
    case returnRejected = "return_rejected"
    case returnCompleted = "return_completed"
    case backInStock = "back_in_stock"
    case settlementDiscrepancies = "settlement_discrepancies"

    /// The message for `facts`; a fact that is missing reads as `?`.
    public func render(_ facts: JSONValue) -> (subject: String, text: String) {
        func fact(_ name: String) -> String {
            switch facts[name] {
            case .string(let text)?: text
            case .number(let number)?: number == number.rounded() ? String(Int(number)) : String(number)
            case let value?: value.jsonText
            case nil: "?"
            }
        }
        func money(_ name: String) -> String {
            guard let minor = facts[name]?.numberValue else { return "?" }
            return String(format: "%.2f %@", minor / 100, fact("currency").uppercased())
        }
        let order = fact("order_id")
        switch self {
        case .orderConfirmed:
            return ("Order \(order) confirmed", "Thank you! Your payment of \(money("amount")) for order \(order) is complete.")
        case .paymentDeclined:
            return ("Payment for order \(order) declined",
                    "Your payment for order \(order) was declined (\(fact("reason"))). Update your payment method to complete the order; \(fact("retries_left")) attempt(s) left until \(fact("window_ends_at")).")
        case .paymentReminder:
            return ("Order \(order) is waiting for your payment",
                    "Your order \(order) will be cancelled at \(fact("window_ends_at")) unless you update your payment method.")
        case .paymentActionRequired:
            return ("Confirm your payment for order \(order)", "Your bank asks you to confirm the payment for order \(order).")
        case .orderFailed:
            return ("Order \(order) could not be completed", "We could not complete order \(order) (\(fact("reason"))). You have not been charged.")
        case .orderCancelled:
            return ("Order \(order) cancelled", "Order \(order) was cancelled. You have not been charged.")
        case .refundIssued:
            return ("Refund for order \(order)", "We refunded \(money("amount")) for order \(order).")
        case .returnOpened:
            return ("Return \(fact("rma")) opened", "We opened return \(fact("rma")) for order \(order). We will let you know once it is reviewed.")
        case .returnRejected:
            return ("Return \(fact("rma")) rejected", "Return \(fact("rma")) for order \(order) was not accepted (\(fact("reason"))).")
        case .returnCompleted:
            return ("Return \(fact("rma")) completed", "We received return \(fact("rma")) and refunded \(money("amount")) for order \(order).")
        case .backInStock:
            return ("\(fact("sku")) is back in stock", "Good news: \(fact("sku")) is back in stock.")
        case .settlementDiscrepancies:
            return ("Settlement \(fact("date")): \(fact("count")) discrepancies", "The settlement of \(fact("date")) found \(fact("count")) discrepancies: GET /v1/settlements/discrepancies?date=\(fact("date"))")
        }
    }
}
