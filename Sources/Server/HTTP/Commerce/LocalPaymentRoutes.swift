import Activities
import Hummingbird
import Orchestrator

/// `POST /v1/dev/payment_intents/{id}/authenticate` `{success}`: completes (or fails) 3-D Secure
/// on the local payment gateway, as the customer would at their bank, then delivers what Stripe's
/// webhook would (`payment_action_completed` or `payment_failed`) to the workflow in the intent's
/// metadata. Mounted only when no Stripe key is configured.
struct LocalPaymentRoutes {
    let engine: Engine
    let gateway: LocalPaymentGateway

    var endpoints: [Endpoint] {
        [Endpoint(.post, "/v1/dev/payment_intents/{id}/authenticate", authenticate)]
    }

    @Sendable func authenticate(_ request: Request, context: APIRequestContext) async throws -> Response {
        var request = request
        let id = try context.path("id")
        let body = try await request.jsonObject(context: context, allowEmpty: true).onlyFields(["success"])
        let success: Bool
        switch body["success"] {
        case nil: success = true
        case .bool(let value)?: success = value
        default: throw APIError(.unprocessableContent, "request.invalid", "'success' must be true or false")
        }
        let (intent, workflowID): (PaymentIntent, String?)
        do {
            (intent, workflowID) = try await gateway.authenticate(paymentIntent: id, success: success)
        } catch let error as ActivityError {
            throw APIError(error.code == "resource_missing" ? .notFound : .conflict, "payment.\(error.code)", error.message)
        }
        var delivery: JSONValue = .null
        if let workflowID {
            let signal = success ? "payment_action_completed" : "payment_failed"
            var payload: JSONValue = ["object_id": .string(intent.id), "event_type": .string(success ? "payment_intent.amount_capturable_updated" : "payment_intent.payment_failed")]
            if let error = intent.lastPaymentError {
                payload["code"] = error.code.map(JSONValue.string) ?? .null
            }
            let result = try await engine.lifecycle.signal(workflowID: workflowID, name: signal, payload: payload, idempotencyKey: "dev:\(intent.id)")
            delivery = ["workflow_id": .string(workflowID), "signal": .string(signal), "delivery": .string(result.rawValue)]
        }
        return .json(["payment_intent_id": .string(intent.id), "status": .string(intent.status), "signal": delivery])
    }
}
