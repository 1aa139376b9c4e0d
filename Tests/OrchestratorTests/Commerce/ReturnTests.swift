import Foundation
import NIOHTTP1
import Orchestrator
import PostgresNIO
import Testing

extension CommerceSuites {
    /// The return workflow: RMA, ops review, parcel, a child refund, stock back (and a restock).
    @Suite struct ReturnTests {
        @Test func anApprovedReturnIsRefundedThroughAChildRestockedAndTold() async throws {
            try await CommerceWorld.run { world in
                let intentID = try await RefundTests.paidOrder(world, "T-1", quantity: 3)  // 3 tea at 100, all of the stock but 997
                try await world.setStock("tea", 0)
                _ = try await world.server.json(.POST, "/v1/waitlist", role: "client", ["sku": "tea", "channel": "email", "address": "wait@example.com"])
                let started = try await world.start("return", ["order_id": "T-1", "items": [["sku": "tea", "quantity": 2]], "reason": "too big"])
                let rma = try #require(started.json["id"]?.stringValue)
                _ = try await world.waitFor(rma, status: "waiting", state: "await_review")
                #expect(world.messages.emails.contains { $0.body.contains("We opened return \(rma)") })

                let byClient = try await world.signal(rma, "approve")
                #expect(byClient.status == 403)
                #expect(try await world.server.json(.POST, "/v1/workflows/\(rma)/signals/approve", role: "ops", [:]).status == 202)
                _ = try await world.waitFor(rma, status: "waiting", state: "await_parcel")
                try await world.signal(rma, "received", ["tracking": "XYZ"])
                let done = try await world.waitFor(rma, status: "completed")
                #expect(done["output"]?["status"] == "completed")
                #expect(done["output"]?["refund"]?["amount"] == 200)

                #expect(try await world.stripe.refundedTotal(intentID) == 200)
                let order = try await world.order("T-1")
                #expect(order["payment"]?["refunded"] == 200)
                #expect(order["returns"]?.arrayValue?.first?["status"] == "completed")
                let types = Set((order["timeline"]?.arrayValue ?? []).compactMap { $0["workflow_type"]?.stringValue })
                #expect(types == ["checkout", "return", "refund"])
                #expect(try await world.stock("tea")["on_hand"] == 2)
                // tea went from 0 to 2: a restock told the waitlist.
                let restocks = try await world.harness.query("SELECT id FROM orchestrator.workflows WHERE type = 'restock'", as: String.self)
                #expect(restocks.count == 1)
                _ = try await world.waitFor(try #require(restocks.first), status: "completed")
                #expect(world.messages.emails.contains { $0.to == "wait@example.com" && $0.body.contains("tea is back in stock") })
                #expect(world.messages.emails.contains { $0.body.contains("We received return \(rma) and refunded 2.00 USD") })
            }
        }

        @Test func aRejectedOrExpiredReturnRefundsNothingAndATooLargeOneIsRefused() async throws {
            try await CommerceWorld.run { world in
                let intentID = try await RefundTests.paidOrder(world, "T-2", quantity: 2)
                let rejected = try await world.start("return", ["order_id": "T-2", "items": [["sku": "tea", "quantity": 1]], "reason": "changed mind"])
                let rejectedID = try #require(rejected.json["id"]?.stringValue)
                _ = try await world.waitFor(rejectedID, status: "waiting", state: "await_review")
                _ = try await world.server.json(.POST, "/v1/workflows/\(rejectedID)/signals/reject", role: "ops", ["payload": ["reason": "used item"]])
                #expect(try await world.waitFor(rejectedID, status: "completed")["output"]?["status"] == "rejected")
                #expect(world.messages.emails.contains { $0.body.contains("was not accepted (used item)") })

                let expired = try await world.start("return", ["order_id": "T-2", "items": [["sku": "tea", "quantity": 2]], "reason": "late"])
                let expiredID = try #require(expired.json["id"]?.stringValue)
                _ = try await world.waitFor(expiredID, status: "waiting", state: "await_review")
                try await world.fireTimers(expiredID)
                #expect(try await world.waitFor(expiredID, status: "failed")["error"]?["code"] == "return_expired")

                let tooMany = try await world.start("return", ["order_id": "T-2", "items": [["sku": "tea", "quantity": 3]], "reason": "all"])
                let tooManyID = try #require(tooMany.json["id"]?.stringValue)
                let refused = try await world.waitFor(tooManyID, status: "failed")
                #expect(refused["error"]?["code"] == "invalid_return")
                #expect(refused["context"]?["refusal"]?["code"] == "return.invalid")
                #expect(try await world.stripe.refundedTotal(intentID) == 0)
                #expect((try await world.order("T-2"))["returns"]?.arrayValue?.map { $0["status"] } == ["rejected", "expired"])
            }
        }
    }
}
