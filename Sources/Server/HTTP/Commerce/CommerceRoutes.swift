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
        json["refunds"] = .array(refunds)
        json["returns"] = .array(returns)
        let workflowIDs = [order.workflowID] + returns.compactMap { $0["rma"]?.stringValue } + refunds.compactMap { $0["refund_id"]?.stringValue }
        let timeline = try await engine.reads.histories(workflowIDs).sorted { ($0.event.at, $0.event.seq) < ($1.event.at, $1.event.seq) }
        json["timeline"] = .array(timeline.map { workflowID, workflowType, event in
            var entry = Representation.event(event)
            entry["workflow_id"] = .string(workflowID)
            entry["workflow_type"] = .string(workflowType)
            return entry
        })
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
