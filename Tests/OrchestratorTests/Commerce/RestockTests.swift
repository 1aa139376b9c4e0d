import Foundation
import NIOHTTP1
import Orchestrator
import PostgresNIO
import Testing

extension CommerceSuites {
    /// The restock workflow: stock added, every subscriber told once, the told leave the list.
    @Suite struct RestockTests {
        @Test func aRestockTellsEachOf200SubscribersOnceWhileItsServerIsKilledMidway() async throws {
            try await CommerceWorld.run(workers: 4) { world in
                // Slow providers, so the kill lands in the middle of the notifications.
                world.messages.setDelay(.milliseconds(60))
                for index in 0..<200 {
                    let entry: JSONValue = index % 4 == 0
                        ? ["sku": "kettle", "channel": "sms", "address": .string("+1555\(String(format: "%07d", index))")]
                        : ["sku": "kettle", "channel": "email", "address": .string("fan\(index)@example.com")]
                    #expect(try await world.server.json(.POST, "/v1/waitlist", role: "client", entry).status == 201)
                }
                let duplicate = try await world.server.json(.POST, "/v1/waitlist", role: "client", ["sku": "kettle", "channel": "email", "address": "fan1@example.com"])
                #expect(duplicate.status == 200)

                let started = try await world.start("restock", ["sku": "kettle", "quantity": 5])
                let id = try #require(started.json["id"]?.stringValue)
                let deadline = ContinuousClock.now + .seconds(60)
                while world.messages.messages.count < 40, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
                await world.server.crash()
                let sentBeforeCrash = world.messages.messages.count
                #expect(sentBeforeCrash < 200)

                let restarted = try await world.startAnotherServer()
                let done = try await restarted.waitForWorkflow(id, timeout: .seconds(150)) { $0["status"] == "completed" }
                await restarted.stop()
                #expect(done["output"]?["notified"] == 200)
                #expect(done["output"]?["on_hand"] == 5)

                // Every subscriber heard once: a request repeated after the crash carried the same key,
                // which the provider dedupes on.
                let byAddress = Dictionary(grouping: world.messages.messages, by: \.to)
                #expect(byAddress.count == 200)
                for (address, messages) in byAddress {
                    #expect(Set(messages.map(\.idempotencyKey)).count == 1, "\(address) got \(messages.count) messages with different keys")
                }
                let waiting = try await world.harness.query("SELECT count(*) FROM commerce.waitlist WHERE notified_at IS NULL", as: Int64.self)
                #expect(waiting == [0])
                print("restock: \(sentBeforeCrash) messages before the kill, \(world.messages.messages.count) requests in all for 200 subscribers")
            }
        }
    }
}
