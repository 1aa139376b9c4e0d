import Foundation
import NIOHTTP1
import Orchestrator
import Testing

extension CommerceSuites {
    /// The checkout workflow end to end through the HTTP API, Stripe calls answered by localstripe,
    /// SMS and email recorded: the happy path and each failure path of the contract.
    @Suite struct CheckoutTests {
        @Test func aWorkingCardIsAuthorizedCapturedStockCommittedAndTheCustomerTold() async throws {
            try await CommerceWorld.run { world in
                try await world.setStock("tea", 10)
                let started = try await world.start("checkout", CommerceWorld.checkoutInput("A-100"))
                #expect(started.status == 201)
                #expect(started.json["id"] == "checkout:A-100")
                let done = try await world.waitFor("checkout:A-100", status: "completed")
                #expect(done["output"]?["status"] == "paid")
                #expect(done["output"]?["amount"] == 900)

                let order = try await world.order("A-100")
                #expect(order["status"] == "paid")
                #expect(order["payment"]?["captured"] == 900)
                #expect(order["payment"]?["authorized"] == 900)
                #expect(try await world.stock("tea") == ["sku": "tea", "on_hand": 8, "reserved": 0, "available": 8])
                let timeline = order["timeline"]?.arrayValue ?? []
                #expect(timeline.contains { $0["type"] == "workflow_completed" && $0["workflow_type"] == "checkout" })

                let intentID = try #require(done["output"]?["payment_intent_id"]?.stringValue)
                let intent = try await world.stripe.paymentIntent(intentID)
                #expect(intent["status"] == "succeeded")
                #expect(intent["capture_method"] == "manual")
                #expect(intent["metadata"]?["workflow_id"] == "checkout:A-100")
                #expect(intent["amount"] == 900)

                #expect(world.messages.emails.map(\.to) == ["ada@example.com"])
                #expect(world.messages.emails.first?.body.contains("Order A-100 confirmed") == true)
                #expect(world.messages.emails.first?.headers["authorization"]?.hasPrefix("Bearer SG.") == true)
                #expect(world.messages.texts.map(\.to) == ["+15551230000"])
                #expect(world.messages.texts.first?.headers["authorization"]?.hasPrefix("Basic ") == true)
            }
        }

        @Test func aSecondStartForTheSameOrderAnswersTheFirstWorkflow() async throws {
            try await CommerceWorld.run { world in
                try await world.setStock("tea", 10)
                let first = try await world.start("checkout", CommerceWorld.checkoutInput("A-101"))
                let again = try await world.start("checkout", CommerceWorld.checkoutInput("A-101", quantity: 5))
                #expect(first.status == 201)
                #expect(again.status == 200)
                #expect(again.json["id"] == "checkout:A-101")
                _ = try await world.waitFor("checkout:A-101", status: "completed")
                #expect(try await world.stock("tea")["on_hand"] == 8)
                let mismatched = try await world.server.json(.POST, "/v1/workflows", role: "client",
                                                            ["type": "checkout", "id": "other", "input": CommerceWorld.checkoutInput("A-101")])
                #expect(mismatched.status == 422)
            }
        }

        @Test func aDeclinedCardIsToldThenANewPaymentMethodCompletesTheOrder() async throws {
            try await CommerceWorld.run { world in
                try await world.setStock("tea", 10)
                try await world.start("checkout", CommerceWorld.checkoutInput("A-102", paymentMethod: "pm_card_chargeCustomerFail"))
                let waiting = try await world.waitFor("checkout:A-102", status: "waiting", state: "await_new_method")
                #expect(waiting["context"]?["decline"]?["code"] == "card_declined")
                #expect(waiting["context"]?["retry"]?["retries_left"] == 3)
                #expect(world.messages.emails.last?.body.contains("was declined (card_declined)") == true)
                #expect(try await world.stock("tea")["reserved"] == 2)

                #expect(try await world.signal("checkout:A-102", "payment_method_updated", ["payment_method": "pm_card_visa"]).status == 202)
                _ = try await world.waitFor("checkout:A-102", status: "completed")
                let order = try await world.order("A-102")
                #expect(order["status"] == "paid")
                #expect(order["payment"]?["declines"] == 1)
                #expect(try await world.stock("tea") == ["sku": "tea", "on_hand": 8, "reserved": 0, "available": 8])
            }
        }

        @Test func declinesBeyondTheAllowedRetriesGiveUpReleaseTheStockAndTellTheCustomer() async throws {
            try await CommerceWorld.run { world in
                try await world.setStock("tea", 10)
                try await world.start("checkout", CommerceWorld.checkoutInput("A-103", paymentMethod: "pm_card_chargeCustomerFail", extra: ["payment_retries": 1]))
                _ = try await world.waitFor("checkout:A-103", status: "waiting", state: "await_new_method")
                try await world.signal("checkout:A-103", "payment_method_updated", ["payment_method": "pm_card_chargeCustomerFail"])
                let failed = try await world.waitFor("checkout:A-103", status: "failed")
                #expect(failed["error"]?["code"] == "checkout_failed")
                let order = try await world.order("A-103")
                #expect(order["status"] == "failed")
                #expect(order["failure_reason"] == "payment_declined")
                #expect(order["payment"]?["declines"] == 2)
                #expect(try await world.stock("tea") == ["sku": "tea", "on_hand": 10, "reserved": 0, "available": 10])
                #expect(world.messages.emails.last?.body.contains("could not complete order A-103") == true)
            }
        }

        @Test func theRetryWindowSendsAReminderThenClosesTheOrder() async throws {
            try await CommerceWorld.run { world in
                try await world.setStock("tea", 10)
                try await world.start("checkout", CommerceWorld.checkoutInput("A-104", paymentMethod: "pm_card_chargeCustomerFail", extra: ["payment_retry_window": "2h"]))
                _ = try await world.waitFor("checkout:A-104", status: "waiting", state: "await_new_method")
                try await world.fireTimers("checkout:A-104")
                _ = try await world.waitFor("checkout:A-104", status: "waiting", state: "await_new_method_after_reminder")
                #expect(world.messages.emails.contains { $0.body.contains("waiting for your payment") })
                try await world.fireTimers("checkout:A-104")
                _ = try await world.waitFor("checkout:A-104", status: "failed")
                #expect(try await world.order("A-104")["failure_reason"] == "payment_retry_window_closed")
                #expect(try await world.stock("tea")["reserved"] == 0)
            }
        }

        @Test func threeDSecureCompletedThroughTheVerifiedWebhookCaptures() async throws {
            try await CommerceWorld.run { world in
                try await world.setStock("tea", 10)
                let card = try await world.stripe.threeDSecureCard()
                try await world.start("checkout", CommerceWorld.checkoutInput("A-105", paymentMethod: card))
                let waiting = try await world.waitFor("checkout:A-105", status: "waiting", state: "await_action")
                let intentID = try #require(waiting["context"]?["payment"]?["payment_intent_id"]?.stringValue)
                #expect(waiting["context"]?["payment"]?["client_secret"]?.stringValue?.isEmpty == false)
                #expect(world.messages.emails.last?.body.contains("confirm the payment") == true)

                try await world.stripe.authenticate(intentID, success: true)
                // localstripe sends no webhook here: post the one Stripe sends, signed with the configured secret.
                let event = try await world.postStripeEvent(type: "payment_intent.amount_capturable_updated", object: try await world.stripe.paymentIntent(intentID))
                #expect(event.status == 200)
                #expect(event.json["verdict"] == "delivered")
                _ = try await world.waitFor("checkout:A-105", status: "completed")
                #expect(try await world.stripe.paymentIntent(intentID)["status"] == "succeeded")
            }
        }

        @Test func threeDSecureFailedIsADeclineAndAnActionThatNeverComesTimesOut() async throws {
            try await CommerceWorld.run { world in
                try await world.setStock("tea", 10)
                let card = try await world.stripe.threeDSecureCard()
                try await world.start("checkout", CommerceWorld.checkoutInput("A-106", paymentMethod: card))
                let waiting = try await world.waitFor("checkout:A-106", status: "waiting", state: "await_action")
                let intentID = try #require(waiting["context"]?["payment"]?["payment_intent_id"]?.stringValue)
                try await world.stripe.authenticate(intentID, success: false)
                _ = try await world.postStripeEvent(type: "payment_intent.payment_failed", object: try await world.stripe.paymentIntent(intentID))
                let declined = try await world.waitFor("checkout:A-106", status: "waiting", state: "await_new_method")
                #expect(declined["context"]?["decline"]?["code"] == "payment_intent_authentication_failure")

                // A second 3-D Secure attempt the customer abandons: the action times out.
                let card2 = try await world.stripe.threeDSecureCard()
                try await world.signal("checkout:A-106", "payment_method_updated", ["payment_method": .string(card2)])
                let again = try await world.waitFor("checkout:A-106", status: "waiting", state: "await_action")
                let secondIntent = try #require(again["context"]?["payment"]?["payment_intent_id"]?.stringValue)
                try await world.fireTimers("checkout:A-106")
                _ = try await world.waitFor("checkout:A-106", status: "failed")
                #expect(try await world.order("A-106")["failure_reason"] == "payment_action_timed_out")
                #expect(try await world.stripe.paymentIntent(secondIntent)["status"] == "canceled")
                #expect(try await world.stock("tea")["reserved"] == 0)
            }
        }

        @Test func manualCaptureWaitsForTheCaptureSignal() async throws {
            try await CommerceWorld.run { world in
                try await world.setStock("tea", 10)
                try await world.start("checkout", CommerceWorld.checkoutInput("A-107", extra: ["capture": "manual"]))
                let waiting = try await world.waitFor("checkout:A-107", status: "waiting", state: "await_capture")
                let intentID = try #require(waiting["context"]?["payment"]?["payment_intent_id"]?.stringValue)
                #expect(try await world.order("A-107")["status"] == "authorized")
                #expect(try await world.stripe.paymentIntent(intentID)["status"] == "requires_capture")
                try await world.signal("checkout:A-107", "capture")
                _ = try await world.waitFor("checkout:A-107", status: "completed")
                #expect(try await world.stripe.paymentIntent(intentID)["status"] == "succeeded")
                #expect(try await world.order("A-107")["status"] == "paid")
            }
        }

        @Test func anAuthorizationNotCapturedWithinItsTTLIsCancelled() async throws {
            try await CommerceWorld.run { world in
                try await world.setStock("tea", 10)
                try await world.start("checkout", CommerceWorld.checkoutInput("A-108", extra: ["capture": "manual", "authorization_ttl": "2d"]))
                let waiting = try await world.waitFor("checkout:A-108", status: "waiting", state: "await_capture")
                let intentID = try #require(waiting["context"]?["payment"]?["payment_intent_id"]?.stringValue)
                try await world.fireTimers("checkout:A-108")
                _ = try await world.waitFor("checkout:A-108", status: "failed")
                #expect(try await world.stripe.paymentIntent(intentID)["status"] == "canceled")
                #expect(try await world.order("A-108")["failure_reason"] == "authorization_expired")
                #expect(try await world.stock("tea")["reserved"] == 0)
            }
        }

        @Test func cancelCompensatesEachStepExactlyOnce() async throws {
            try await CommerceWorld.run { world in
                try await world.setStock("tea", 10)
                try await world.start("checkout", CommerceWorld.checkoutInput("A-109", extra: ["capture": "manual"]))
                let waiting = try await world.waitFor("checkout:A-109", status: "waiting", state: "await_capture")
                let intentID = try #require(waiting["context"]?["payment"]?["payment_intent_id"]?.stringValue)
                try await world.signal("checkout:A-109", "cancel")
                let ended = try await world.waitFor("checkout:A-109", status: "failed")
                #expect(ended["error"]?["code"] == "checkout_cancelled")
                #expect(try await world.stripe.paymentIntent(intentID)["status"] == "canceled")
                #expect(try await world.order("A-109")["status"] == "cancelled")
                #expect(try await world.stock("tea") == ["sku": "tea", "on_hand": 10, "reserved": 0, "available": 10])
                let activities = try await world.completedActivities("checkout:A-109")
                #expect(activities.filter { $0 == "payments.cancel" }.count == 1)
                #expect(activities.filter { $0 == "inventory.release" }.count == 1)
                #expect(activities.filter { $0 == "orders.close" }.count == 1)
                #expect(world.messages.emails.last?.body.contains("Order A-109 was cancelled") == true)

                // The engine's cancel (ops) runs the same compensation: the workflow ends `cancelled`.
                try await world.start("checkout", CommerceWorld.checkoutInput("A-110", extra: ["capture": "manual"]))
                _ = try await world.waitFor("checkout:A-110", status: "waiting", state: "await_capture")
                #expect(try await world.server.json(.POST, "/v1/workflows/checkout:A-110/cancel", role: "client", ["reason": "customer asked"]).status == 200)
                _ = try await world.waitFor("checkout:A-110", status: "cancelled")
                #expect(try await world.order("A-110")["status"] == "cancelled")
                #expect(try await world.stock("tea")["reserved"] == 0)
            }
        }

        @Test func notEnoughStockFailsWithoutCallingStripe() async throws {
            try await CommerceWorld.run { world in
                try await world.setStock("tea", 1)
                try await world.start("checkout", CommerceWorld.checkoutInput("A-111", quantity: 2))
                _ = try await world.waitFor("checkout:A-111", status: "failed")
                let order = try await world.order("A-111")
                #expect(order["failure_reason"] == "insufficient_stock")
                #expect(order["payment"]?["payment_intent_id"] == .null)
                #expect(try await world.stock("tea") == ["sku": "tea", "on_hand": 1, "reserved": 0, "available": 1])
                #expect(!(try await world.completedActivities("checkout:A-111")).contains("payments.authorize"))
            }
        }
    }
}
