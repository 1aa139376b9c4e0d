import Orchestrator

/// The commerce activities' error codes: one catalog, each final (retrying cannot help).
public enum CommerceError {
    /// Not enough available stock for a reservation (all or nothing).
    public static func insufficientStock(_ message: String) -> ActivityError { .nonRetryable("insufficient_stock", message) }
    public static func unknownSKU(_ sku: String) -> ActivityError { .nonRetryable("inventory.unknown_sku", "no inventory for SKU '\(sku)'") }
    public static func invalidOrder(_ message: String) -> ActivityError { .nonRetryable("order.invalid", message) }
    public static func orderNotFound(_ id: String) -> ActivityError { .nonRetryable("order.not_found", "no order '\(id)'") }
    public static func orderTaken(_ id: String) -> ActivityError { .nonRetryable("order.exists", "order '\(id)' belongs to another workflow") }
    public static func reservationNotHeld(_ id: String, status: String) -> ActivityError {
        .nonRetryable("reservation.not_held", "reservation '\(id)' is \(status), not held")
    }
    /// A refund above what is left to refund (captured minus earlier refunds).
    public static func refundExceedsCaptured(_ message: String) -> ActivityError { .nonRetryable("refund.exceeds_captured", message) }
    public static func invalidReturn(_ message: String) -> ActivityError { .nonRetryable("return.invalid", message) }
    public static func notCaptured(_ id: String) -> ActivityError { .nonRetryable("order.not_captured", "order '\(id)' has no captured payment to refund") }
}
