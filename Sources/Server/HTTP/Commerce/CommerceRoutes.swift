import Activities
import Foundation
import Hummingbird
import Orchestrator
import PostgresNIO

/// The shop's data: stock, the restock waitlist and orders with their timeline.
struct CommerceRoutes {
    let engine: Engine

    /// `client` and `ops` keys.
    var clientEndpoints: [Endpoint] {
        [
            Endpoint(.get, "/v1/inventory/{sku}", stock),
            Endpoint(.post, "/v1/waitlist", subscribe),
            Endpoint(.get, "/v1/orders/{order_id}", order),
        ]
    }

    /// `ops` keys only.
    var opsEndpoints: [Endpoint] {
        [
            Endpoint(.put, "/v1/inventory/{sku}", setStock),
            Endpoint(.get, "/v1/settlements/discrepancies", discrepancies),
        ]
    }

    private func withStore<T: Sendable>(_ context: APIRequestContext, _ body: (CommerceStore) async throws -> T) async throws -> T {
        try await engine.client.withConnection { connection in try await body(CommerceStore(connection: connection, logger: context.logger)) }
    }

    @Sendable func stock(_ request: Request, context: APIRequestContext) async throws -> Response {
        let sku = try Self.sku(context)
        guard let level = try await withStore(context, { try await $0.stock(sku) }) else {
            throw APIError(.notFound, "inventory.not_found", "no inventory for SKU '\(sku)'")
        }
        return .json(level.json)
    }

    @Sendable func setStock(_ request: Request, context: APIRequestContext) async throws -> Response {
        var request = request
        let sku = try Self.sku(context)
        let body = try await request.jsonObject(context: context).onlyFields(["on_hand"])
        guard let number = body["on_hand"]?.numberValue, number == number.rounded(), (0...1_000_000_000).contains(number) else {
            throw APIError(.unprocessableContent, "request.invalid", "'on_hand' must be a whole number from 0 to 1000000000")
        }
        switch try await withStore(context, { try await $0.setStock(sku, onHand: Int(number)) }) {
        case .set(let level):
            return .json(level.json)
        case .belowReserved(let reserved):
            throw APIError(.conflict, "inventory.below_reserved", "\(reserved) of \(sku) are reserved: on_hand cannot go under that")
        }
    }

    @Sendable func subscribe(_ request: Request, context: APIRequestContext) async throws -> Response {
        var request = request
        let body = try await request.jsonObject(context: context).onlyFields(["sku", "channel", "address"])
        guard let sku = body["sku"]?.stringValue, (1...100).contains(sku.utf8.count) else {
            throw APIError(.unprocessableContent, "request.invalid", "'sku' must be a string of 1 to 100 bytes")
        }
        guard let channel = body["channel"]?.stringValue.flatMap(NotificationChannel.init(rawValue:)) else {
            throw APIError(.unprocessableContent, "request.invalid", "'channel' must be email or sms")
        }
        guard let address = body["address"]?.stringValue, Self.isValid(address, for: channel) else {
            throw APIError(.unprocessableContent, "request.invalid", channel == .email ? "'address' must be an email address" : "'address' must be a phone number in E.164 form (+15551234567)")
        }
        let (entry, created) = try await withStore(context) { try await $0.subscribe(sku: sku, channel: channel, address: address) }
        return .json(entry, status: created ? .created : .ok)
    }

    @Sendable func order(_ request: Request, context: APIRequestContext) async throws -> Response {
        let id = try context.path("order_id")
        let (order, refunds, returns) = try await withStore(context) { store in
            (try await store.order(id), try await store.refunds(orderID: id), try await store.returns(orderID: id))
        }
        guard let order else { throw APIError(.notFound, "order.not_found", "no order '\(id)'") }
        var json = order.json
        JSONPath(segments: [.key("refunds")]).write(.array(refunds), into: &json)
        JSONPath(segments: [.key("returns")]).write(.array(returns), into: &json)
        let workflowIDs = [order.workflowID] + returns.compactMap { $0["rma"]?.stringValue } + refunds.compactMap { $0["refund_id"]?.stringValue }
        var timeline: [(at: Date, seq: Int, event: JSONValue)] = []
        for workflowID in workflowIDs {
            guard let workflow = try? await engine.workflow(workflowID) else { continue }
            for event in try await engine.history(workflowID) {
                var entry = Representation.event(event)
                JSONPath(segments: [.key("workflow_id")]).write(.string(workflowID), into: &entry)
                JSONPath(segments: [.key("workflow_type")]).write(.string(workflow.type), into: &entry)
                timeline.append((event.at, event.seq, entry))
            }
        }
        timeline.sort { ($0.at, $0.seq) < ($1.at, $1.seq) }
        JSONPath(segments: [.key("timeline")]).write(.array(timeline.map(\.event)), into: &json)
        return .json(json)
    }

    @Sendable func discrepancies(_ request: Request, context: APIRequestContext) async throws -> Response {
        guard let text = try request.query("date"), let day = try? SettlementDay(text, now: Date()) else {
            throw APIError.badRequest("request.invalid_date", "date is required, a day such as 2026-11-24")
        }
        let items = try await withStore(context) { try await $0.settlementDiscrepancies(date: day.text) }
        return .json(["date": .string(day.text), "items": .array(items)])
    }

    static func sku(_ context: APIRequestContext) throws -> String {
        let sku = try context.path("sku")
        guard (1...100).contains(sku.utf8.count) else { throw APIError.badRequest("request.invalid", "a SKU has 1 to 100 bytes") }
        return sku
    }

    static func isValid(_ address: String, for channel: NotificationChannel) -> Bool {
        switch channel {
        case .email:
            let parts = address.split(separator: "@", omittingEmptySubsequences: false)
            return (3...320).contains(address.utf8.count) && parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !address.contains(where: \.isWhitespace)
        case .sms:
            return address.first == "+" && (8...16).contains(address.count) && address.dropFirst().allSatisfy(\.isNumber)
        }
    }
}
