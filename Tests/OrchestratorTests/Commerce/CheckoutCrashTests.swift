import Foundation
import NIOHTTP1
import Orchestrator
import PostgresNIO
import Testing

extension CommerceSuites {
    /// A worker killed between Stripe doing the work and the completion committing.
    @Suite struct CheckoutCrashTests {
        @Test func aCheckoutWhoseServerIsKilledAfterTheStripeCallAuthorizesAndCapturesOnce() async throws {
            try await CommerceWorld.run { world in
                try await world.setStock("tea", 10)
                // Stripe creates the PaymentIntent at once but answers a minute later: the server dies waiting.
                try await world.stripe.delayResponses(to: "/v1/payment_intents", seconds: 60)
                try await world.start("checkout", CommerceWorld.checkoutInput("K-1"))
                let deadline = ContinuousClock.now + .seconds(30)
                while try await world.stripe.paymentIntents(workflowID: "checkout:K-1").isEmpty, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(try await world.stripe.paymentIntents(workflowID: "checkout:K-1").count == 1)
                await world.server.crash()
                try await world.stripe.delayResponses(to: "/v1/payment_intents", seconds: 0)

                // The lease expires (the task's 30 s timeout + grace); the retry sends the same Idempotency-Key.
                let restarted = try await world.startAnotherServer()
                let done = try await restarted.waitForWorkflow("checkout:K-1", timeout: .seconds(120)) { $0["status"] == "completed" }
                await restarted.stop()
                #expect(done["status"] == "completed")

                let intents = try await world.stripe.paymentIntents(workflowID: "checkout:K-1")
                #expect(intents.count == 1)
                #expect(intents.first?["status"] == "succeeded")
                #expect(intents.first?["amount_received"] == 900 || intents.first?["amount"] == 900)
                let authorizeAttempts = try await world.harness.query(
                    "SELECT attempt FROM orchestrator.tasks WHERE workflow_id = 'checkout:K-1' AND activity = 'payments.authorize'", as: Int32.self)
                #expect(authorizeAttempts == [2])
                let tea = try await world.harness.query("SELECT on_hand FROM commerce.inventory WHERE sku = 'tea'", as: Int32.self)
                #expect(tea == [8])
                let captured = try await world.harness.query("SELECT captured_amount FROM commerce.orders WHERE id = 'K-1'", as: Int64.self)
                #expect(captured == [900])
            }
        }
    }
}
