import Foundation
import NIOHTTP1
import Orchestrator
import PostgresNIO
import Testing

extension CommerceSuites {
    /// The settlement workflow against localstripe's balance transactions (listed by day and page
    /// by the test-side layer, as Stripe does).
    @Suite struct SettlementTests {
        static var today: String {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyy-MM-dd"
            return formatter.string(from: Date())
        }

        @Test func aDayIsReconciledAcrossPagesEachDiscrepancyRecordedOnceAndOpsTold() async throws {
            try await CommerceWorld.run { world in
                _ = try await RefundTests.paidOrder(world, "Z-1", quantity: 3)
                _ = try await RefundTests.paidOrder(world, "Z-2", quantity: 2)
                let refund = try await world.start("refund", ["order_id": "Z-1", "amount": 100, "reason": "dent"], role: "ops")
                _ = try await world.waitFor(try #require(refund.json["id"]?.stringValue), status: "completed")
                // Payments made straight at Stripe, not through a checkout: more than a page of them.
                for _ in 0..<105 {
                    let intent = try await world.stripe.request(.POST, "/v1/payment_intents", form: [
                        ("amount", "700"), ("currency", "usd"), ("payment_method", "pm_card_visa"), ("capture_method", "manual"), ("confirm", "true"),
                    ])
                    try await world.stripe.request(.POST, "/v1/payment_intents/\(intent["id"]?.stringValue ?? "")/capture")
                }
                // Our records disagree with Stripe's twice: an amount, and a capture Stripe never made.
                try await world.harness.client.query("UPDATE commerce.orders SET captured_amount = 250 WHERE id = 'Z-2'", logger: world.harness.logger)
                try await world.harness.client.query(
                    """
                    INSERT INTO commerce.orders (id, workflow_id, customer_email, currency, amount, status, charge_id, captured_amount, captured_at)
                    VALUES ('Z-3', 'checkout:Z-3', 'z@example.com', 'usd', 400, 'paid', 'ch_only_ours', 400, now())
                    """, logger: world.harness.logger)

                let run = try await world.start("settlement", ["date": .string(Self.today)])
                let done = try await world.waitFor(try #require(run.json["id"]?.stringValue), status: "completed")
                #expect(done["output"]?["discrepancies"] == 107)
                #expect(done["output"]?["new"] == 107)
                #expect(done["output"]?["transactions"] == 108)  // 2 captures through us, 1 refund, 105 outside
                let report = try await world.server.request(.GET, "/v1/settlements/discrepancies?date=\(Self.today)", role: "ops").json
                let items = report["items"]?.arrayValue ?? []
                #expect(items.count == 107)
                #expect(items.filter { $0["kind"] == "missing_in_orchestrator" }.count == 105)
                #expect(items.contains { $0["kind"] == "amount_mismatch" && $0["expected"] == 250 && $0["actual"] == 200 })
                #expect(items.contains { $0["kind"] == "missing_in_stripe" && $0["reference"] == "ch_only_ours" })
                #expect(!items.contains { $0["reference"]?.stringValue?.hasPrefix("re_") == true })
                let opsMail = world.messages.emails.filter { $0.to == "ops@example.com" }
                #expect(opsMail.count == 1)
                #expect(opsMail.first?.body.contains("107 discrepancies") == true)

                // The same day again: nothing recorded twice, nobody told twice.
                let again = try await world.start("settlement", ["date": .string(Self.today)])
                let second = try await world.waitFor(try #require(again.json["id"]?.stringValue), status: "completed")
                #expect(second["output"]?["new"] == 0)
                #expect((try await world.server.request(.GET, "/v1/settlements/discrepancies?date=\(Self.today)", role: "ops").json["items"]?.arrayValue ?? []).count == 107)
                #expect(world.messages.emails.filter { $0.to == "ops@example.com" }.count == 1)
                #expect(try await world.server.request(.GET, "/v1/settlements/discrepancies?date=\(Self.today)", role: "client").status == 403)
                #expect(try await world.server.request(.GET, "/v1/settlements/discrepancies?date=yesterday", role: "ops").status == 400)
            }
        }
    }
}
