import Foundation
import NIOHTTP1
import Orchestrator
import Testing

extension CommerceSuites {
    /// The refund workflow: ops only, never more than was captured, concurrent refunds included.
    @Suite struct RefundTests {
        /// A paid order of `amount` (unit 100 × quantity) and its PaymentIntent id.
        static func paidOrder(_ world: CommerceWorld, _ order: String, quantity: Int) async throws -> String {
            try await world.setStock("tea", 1000)
            try await world.start("checkout", CommerceWorld.checkoutInput(order, quantity: quantity, unitAmount: 100))
            let done = try await world.waitFor("checkout:\(order)", status: "completed")
            return try #require(done["output"]?["payment_intent_id"]?.stringValue)
        }

        @Test func partialThenTheRestRefundedRecordedWithWhoAskedAndNothingBeyond() async throws {
            try await CommerceWorld.run { world in
                let intentID = try await Self.paidOrder(world, "R-1", quantity: 10)
                let refused = try await world.start("refund", ["order_id": "R-1", "amount": 300, "reason": "damaged"])
                #expect(refused.status == 403)

                let partial = try await world.start("refund", ["order_id": "R-1", "amount": 300, "reason": "damaged"], role: "ops")
                let partialID = try #require(partial.json["id"]?.stringValue)
                let first = try await world.waitFor(partialID, status: "completed")
                #expect(first["output"]?["amount"] == 300)
                let rest = try await world.start("refund", ["order_id": "R-1", "reason": "customer changed their mind"], role: "ops")
                let second = try await world.waitFor(try #require(rest.json["id"]?.stringValue), status: "completed")
                #expect(second["output"]?["amount"] == 700)
                let beyond = try await world.start("refund", ["order_id": "R-1", "amount": 1, "reason": "again"], role: "ops")
                let refusedRun = try await world.waitFor(try #require(beyond.json["id"]?.stringValue), status: "failed")
                #expect(refusedRun["error"]?["code"] == "refund_refused")
                #expect(refusedRun["context"]?["refusal"]?["code"] == "refund.exceeds_captured")

                #expect(try await world.stripe.refundedTotal(intentID) == 1000)
                let order = try await world.order("R-1")
                #expect(order["payment"]?["refunded"] == 1000)
                #expect(order["payment"]?["refundable"] == 0)
                let refunds = order["refunds"]?.arrayValue ?? []
                #expect(refunds.map { $0["requested_by"] } == ["alice", "alice"])
                #expect(refunds.map { $0["reason"] } == ["damaged", "customer changed their mind"])
                #expect((order["timeline"]?.arrayValue ?? []).contains { $0["workflow_type"] == "refund" })
                #expect(world.messages.emails.contains { $0.body.contains("We refunded 3.00 USD for order R-1") })
            }
        }

        @Test func twentyConcurrentPartialRefundsNeverRefundMoreThanWasCaptured() async throws {
            try await CommerceWorld.run(workers: 8) { world in
                let intentID = try await Self.paidOrder(world, "R-2", quantity: 10)  // 1000 captured
                let ids = try await withThrowingTaskGroup(of: String.self) { group in
                    for index in 0..<20 {
                        group.addTask {
                            let reply = try await world.start("refund", ["order_id": "R-2", "amount": 150, "reason": .string("claim \(index)")], role: "ops")
                            return reply.json["id"]?.stringValue ?? ""
                        }
                    }
                    return try await group.reduce(into: [String]()) { $0.append($1) }
                }
                var completed = 0
                for id in ids {
                    let ended = try await world.server.waitForWorkflow(id) { ["completed", "failed"].contains($0["status"]?.stringValue ?? "") }
                    if ended["status"] == "completed" { completed += 1 } else { #expect(ended["context"]?["refusal"]?["code"] == "refund.exceeds_captured") }
                }
                #expect(completed == 6)  // 6 × 150 = 900 ≤ 1000 < 7 × 150
                #expect(try await world.stripe.refundedTotal(intentID) == 900)
                #expect(try await world.order("R-2")["payment"]?["refunded"] == 900)
            }
        }
    }
}
