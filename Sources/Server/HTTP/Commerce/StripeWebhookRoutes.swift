import Activities
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Orchestrator
import PostgresNIO

/// `POST /v1/webhooks/stripe`: verified Stripe events become signals on the workflow named in the
/// object's metadata (`workflow_id`). No API key: the signature is the credential.
///
/// | event | signal |
/// |---|---|
/// | `payment_intent.amount_capturable_updated`, `payment_intent.succeeded` | `payment_action_completed` |
/// | `payment_intent.payment_failed` | `payment_failed` |
/// | `charge.refunded` | `charge_refunded` |
///
/// A forged, stale or unparseable event, or one naming no known workflow, is 400 and delivers
/// nothing; other event types are 200 `ignored`. An event id seen before is 200 `duplicate`
/// (and the signal's idempotency key is the event id, so two concurrent deliveries signal once).
/// An event about a PaymentIntent that is no longer its order's current one (an earlier, declined
/// attempt) is 200 `stale`. Every verdict is logged, never the secret or the signature.
struct StripeWebhookRoutes {
    let engine: Engine
    let secrets: [String]

    var endpoints: [Endpoint] {
        [Endpoint(.post, "/v1/webhooks/stripe", receive)]
    }

    static let signalByEvent: [String: String] = [
        "payment_intent.amount_capturable_updated": "payment_action_completed",
        "payment_intent.succeeded": "payment_action_completed",
        "payment_intent.payment_failed": "payment_failed",
        "charge.refunded": "charge_refunded",
    ]

    @Sendable func receive(_ request: Request, context: APIRequestContext) async throws -> Response {
        let body = Array(buffer: try await request.body.collect(upTo: context.maxUploadSize))
        let logger = context.logger
        func refuse(_ code: String, _ message: String, eventID: String? = nil) -> APIError {
            logger.notice("stripe webhook refused", metadata: ["verdict": "\(code)", "event_id": "\(eventID ?? "-")"])
            return APIError.badRequest(code, message)
        }
        guard !secrets.isEmpty else { throw refuse("webhook.not_configured", "STRIPE_WEBHOOK_SECRET is not set: no event can be verified") }
        guard let header = request.headers[Self.signatureField] else { throw refuse("webhook.signature_missing", "the Stripe-Signature header is missing") }
        switch StripeSignature(secrets: secrets).verify(header: header, payload: body, now: engine.clock.now()) {
        case .valid: break
        case .malformed: throw refuse("webhook.signature_malformed", "Stripe-Signature has no t= and v1= values")
        case .stale: throw refuse("webhook.signature_stale", "the event was signed more than 5 minutes from now")
        case .mismatch: throw refuse("webhook.signature_invalid", "the signature matches no configured secret")
        }
        guard let event = try? JSONValue(jsonData: Data(body)), let id = event["id"]?.stringValue,
            let type = event["type"]?.stringValue, let object = event["data"]?["object"]?.objectValue
        else { throw refuse("webhook.malformed", "the event is not a Stripe event object {id, type, data: {object}}") }

        func answer(_ verdict: String) async throws -> Response {
            try await engine.client.withConnection { connection in
                try await CommerceStore(connection: connection, logger: logger).recordStripeEvent(id: id, type: type, verdict: verdict)
            }
            logger.info("stripe webhook", metadata: ["verdict": "\(verdict)", "event_id": "\(id)", "event_type": "\(type)"])
            return .json(["event_id": .string(id), "verdict": .string(verdict)])
        }
        guard let signal = Self.signalByEvent[type] else { return try await answer("ignored") }
        guard let workflowID = object["metadata"]?["workflow_id"]?.stringValue else {
            throw refuse("webhook.unknown_workflow", "the event's object has no metadata.workflow_id", eventID: id)
        }
        // One connection for both lookups: seen before, and (for a PaymentIntent) still its order's current one.
        let intentID = type.hasPrefix("payment_intent.") ? object["id"]?.stringValue : nil
        let (seen, stale) = try await engine.client.withConnection { connection in
            let store = CommerceStore(connection: connection, logger: logger)
            let seen = try await store.stripeEventSeen(id)
            guard !seen, let intentID else { return (seen, false) }
            return (seen, try await store.orderID(paymentIntent: intentID) == nil)
        }
        if seen { return .json(["event_id": .string(id), "verdict": "duplicate"]) }
        if stale { return try await answer("stale") }
        var payload: JSONValue = ["event_id": .string(id), "event_type": .string(type), "object_id": object["id"] ?? .null]
        if let error = object["last_payment_error"]?.objectValue {
            payload["code"] = error["code"] ?? .null
            payload["message"] = error["message"] ?? .null
        }
        do {
            let delivery = try await engine.lifecycle.signal(workflowID: workflowID, name: signal, payload: payload, idempotencyKey: "stripe:\(id)")
            return try await answer(delivery == .duplicate ? "duplicate" : "delivered")
        } catch let error as OrchestratorError where error.code == .workflowNotFound {
            throw refuse("webhook.unknown_workflow", "no workflow '\(workflowID)'", eventID: id)
        } catch let error as OrchestratorError where error.code == .workflowNotActive {
            return try await answer("workflow_ended")
        }
    }

    static let signatureField = HTTPField.Name("Stripe-Signature")!
}
