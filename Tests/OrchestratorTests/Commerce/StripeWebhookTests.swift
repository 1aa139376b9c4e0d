import Foundation
import NIOHTTP1
import Orchestrator
import PostgresNIO
import Testing

extension CommerceSuites {
    /// `POST /v1/webhooks/stripe`: only a verified, fresh, first-seen event about a known workflow
    /// delivers anything.
    @Suite struct StripeWebhookTests {
        /// A checkout waiting for its 3-D Secure step, and its PaymentIntent (authenticated at Stripe).
        static func waitingForAction(_ world: CommerceWorld, order: String) async throws -> (workflowID: String, intent: JSONValue) {
            try await world.setStock("tea", 10)
            let card = try await world.stripe.threeDSecureCard()
            try await world.start("checkout", CommerceWorld.checkoutInput(order, paymentMethod: card))
            let workflowID = "checkout:\(order)"
            let waiting = try await world.waitFor(workflowID, status: "waiting", state: "await_action")
            let intentID = try #require(waiting["context"]?["payment"]?["payment_intent_id"]?.stringValue)
            try await world.stripe.authenticate(intentID, success: true)
            return (workflowID, try await world.stripe.paymentIntent(intentID))
        }

        static func signalCount(_ world: CommerceWorld, _ workflowID: String) async throws -> Int64 {
            try await world.harness.query("SELECT count(*) FROM orchestrator.signals WHERE workflow_id = \(workflowID)", as: Int64.self).first ?? -1
        }

        @Test func forgedStaleMalformedAndUnknownWorkflowEventsAreRefusedAndDeliverNothing() async throws {
            try await CommerceWorld.run { world in
                let (workflowID, intent) = try await Self.waitingForAction(world, order: "W-1")
                let type = "payment_intent.amount_capturable_updated"

                let forged = try await world.postStripeEvent(type: type, object: intent, secret: "whsec_not_ours")
                #expect(forged.status == 400)
                #expect(forged.code == "webhook.signature_invalid")
                let stale = try await world.postStripeEvent(type: type, object: intent, time: Date().addingTimeInterval(-600))
                #expect(stale.status == 400)
                #expect(stale.code == "webhook.signature_stale")
                let unsigned = try await world.server.request(.POST, "/v1/webhooks/stripe", body: "{}")
                #expect(unsigned.code == "webhook.signature_missing")
                let garbage = try await world.server.request(.POST, "/v1/webhooks/stripe", body: "{}", headers: [("Stripe-Signature", "nonsense")])
                #expect(garbage.code == "webhook.signature_malformed")
                let notAnEvent = StripeTestDouble.signedEvent(type: type, object: intent, secret: world.webhookSecrets[1])
                let tampered = try await world.server.request(.POST, "/v1/webhooks/stripe", body: "[1, 2]", headers: [("Stripe-Signature", notAnEvent.signature)])
                #expect(tampered.code == "webhook.signature_invalid")
                var elsewhere = intent
                JSONPath(segments: [.key("metadata"), .key("workflow_id")]).write("checkout:nobody", into: &elsewhere)
                let unknown = try await world.postStripeEvent(type: type, object: elsewhere)
                #expect(unknown.status == 400)
                #expect(unknown.code == "webhook.unknown_workflow")

                #expect(try await Self.signalCount(world, workflowID) == 0)
                #expect(try await world.server.request(.GET, "/v1/workflows/\(workflowID)", role: "client").json["state"] == "await_action")
                // The logs say why, and never hold a secret.
                #expect(world.server.log.contains("webhook.signature_invalid"))
                #expect(!world.webhookSecrets.contains { world.server.log.contains($0) })
            }
        }

        @Test func aReplayedEventDeliversOnceAndEitherRotatedSecretVerifies() async throws {
            try await CommerceWorld.run { world in
                let (workflowID, intent) = try await Self.waitingForAction(world, order: "W-2")
                let first = try await world.postStripeEvent(type: "payment_intent.amount_capturable_updated", object: intent, id: "evt_replayed", secret: world.webhookSecrets[0])
                #expect(first.status == 200)
                #expect(first.json["verdict"] == "delivered")
                let replay = try await world.postStripeEvent(type: "payment_intent.amount_capturable_updated", object: intent, id: "evt_replayed")
                #expect(replay.status == 200)
                #expect(replay.json["verdict"] == "duplicate")
                _ = try await world.waitFor(workflowID, status: "completed")
                #expect(try await Self.signalCount(world, workflowID) == 1)

                let other = try await world.postStripeEvent(type: "customer.created", object: ["id": "cus_1"])
                #expect(other.status == 200)
                #expect(other.json["verdict"] == "ignored")
            }
        }

        @Test func anEventAboutAnEarlierDeclinedPaymentIntentIsStale() async throws {
            try await CommerceWorld.run { world in
                try await world.setStock("tea", 10)
                try await world.start("checkout", CommerceWorld.checkoutInput("W-3", paymentMethod: "pm_card_chargeCustomerFail"))
                _ = try await world.waitFor("checkout:W-3", status: "waiting", state: "await_new_method")
                let declined: JSONValue = ["id": "pi_earlier_attempt", "object": "payment_intent", "metadata": ["workflow_id": "checkout:W-3"],
                                           "last_payment_error": ["code": "card_declined", "message": "declined"]]
                let stale = try await world.postStripeEvent(type: "payment_intent.payment_failed", object: declined)
                #expect(stale.json["verdict"] == "stale")
                #expect(try await Self.signalCount(world, "checkout:W-3") == 0)
            }
        }
    }
}
