import Foundation
import NIOHTTP1
import Orchestrator
import Testing

extension CommerceSuites {
    /// The reservation workflow: all or nothing, then confirm, cancel or expiry — the release once.
    @Suite struct ReservationTests {
        static let items: JSONValue = [["sku": "tea", "quantity": 2], ["sku": "cups", "quantity": 1]]

        @Test func confirmCommitsAndCancelOrExpiryReleasesOnce() async throws {
            try await CommerceWorld.run { world in
                try await world.setStock("tea", 5)
                try await world.setStock("cups", 5)
                #expect(try await world.start("reservation", ["order_id": "S-1", "items": Self.items, "ttl": "15m"]).json["id"] == "reservation:S-1")
                let held = try await world.waitFor("reservation:S-1", status: "waiting")
                #expect(held["context"]?["hold"]?["status"] == "held")
                #expect(try await world.stock("tea") == ["sku": "tea", "on_hand": 5, "reserved": 2, "available": 3])
                try await world.signal("reservation:S-1", "confirm")
                let committed = try await world.waitFor("reservation:S-1", status: "completed")
                #expect(committed["output"]?["status"] == "committed")
                #expect(try await world.stock("tea") == ["sku": "tea", "on_hand": 3, "reserved": 0, "available": 3])
                #expect(try await world.stock("cups")["on_hand"] == 4)

                try await world.start("reservation", ["order_id": "S-2", "items": Self.items, "ttl": "15m"])
                _ = try await world.waitFor("reservation:S-2", status: "waiting")
                try await world.signal("reservation:S-2", "cancel")
                #expect(try await world.waitFor("reservation:S-2", status: "completed")["output"]?["status"] == "released")

                try await world.start("reservation", ["order_id": "S-3", "items": Self.items, "ttl": "15m"])
                _ = try await world.waitFor("reservation:S-3", status: "waiting")
                try await world.fireTimers("reservation:S-3")
                #expect(try await world.waitFor("reservation:S-3", status: "completed")["output"]?["status"] == "expired")

                try await world.start("reservation", ["order_id": "S-4", "items": Self.items, "ttl": "15m"])
                _ = try await world.waitFor("reservation:S-4", status: "waiting")
                #expect(try await world.server.json(.POST, "/v1/workflows/reservation:S-4/cancel", role: "client", [:]).status == 200)
                _ = try await world.waitFor("reservation:S-4", status: "cancelled")

                #expect(try await world.stock("tea") == ["sku": "tea", "on_hand": 3, "reserved": 0, "available": 3])
                #expect(try await world.stock("cups") == ["sku": "cups", "on_hand": 4, "reserved": 0, "available": 4])
                for id in ["reservation:S-2", "reservation:S-3", "reservation:S-4"] {
                    #expect(try await world.completedActivities(id).filter { $0 == "inventory.release" }.count == 1)
                }
            }
        }

        @Test func notEnoughOfOneItemHoldsNothing() async throws {
            try await CommerceWorld.run { world in
                try await world.setStock("tea", 5)
                try await world.setStock("cups", 0)
                try await world.start("reservation", ["order_id": "S-5", "items": Self.items, "ttl": "15m"])
                let failed = try await world.waitFor("reservation:S-5", status: "failed")
                #expect(failed["error"]?["code"] == "insufficient_stock")
                #expect(try await world.completedActivities("reservation:S-5").isEmpty)
                #expect(try await world.stock("tea")["reserved"] == 0)
                // The stock cannot be set under what is reserved.
                try await world.start("reservation", ["order_id": "S-6", "items": [["sku": "tea", "quantity": 4]], "ttl": "15m"])
                _ = try await world.waitFor("reservation:S-6", status: "waiting")
                let below = try await world.server.json(.PUT, "/v1/inventory/tea", role: "ops", ["on_hand": 3])
                #expect(below.status == 409)
                #expect(below.code == "inventory.below_reserved")
            }
        }

        @Test func concurrentReservationsNeverOversell() async throws {
            try await CommerceWorld.run(workers: 8) { world in
                try await world.setStock("tea", 10)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<15 {
                        group.addTask { try await world.start("reservation", ["order_id": .string("C-\(index)"), "items": [["sku": "tea", "quantity": 1]], "ttl": "1h"]) }
                    }
                    try await group.waitForAll()
                }
                var held = 0
                for index in 0..<15 {
                    let ended = try await world.server.waitForWorkflow("reservation:C-\(index)") { ["waiting", "failed"].contains($0["status"]?.stringValue ?? "") }
                    if ended["status"] == "waiting" { held += 1 }
                }
                #expect(held == 10)
                #expect(try await world.stock("tea") == ["sku": "tea", "on_hand": 10, "reserved": 10, "available": 0])
            }
        }
    }
}
