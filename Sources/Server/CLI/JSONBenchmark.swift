import Foundation
import Orchestrator

/// `orchestrator bench --workload json`: reads and writes two documents the engine handles — a
/// checkout's context (~1 KB) and a 5,000-item list (~300 KB) — with the hand-written reader
/// and writer (`JSONValue(json:)`, `jsonText`) and with Foundation's two (`JSONDecoder` into
/// `JSONValue`, `JSONSerialization` plus a conversion), and prints MB/s for each. No database.
enum JSONBenchmark {
    static func run() throws {
        let checkout: JSONValue = [
            "started_by": "shop-backend",
            "reserve": ["reservation_id": "res-8f2c", "lines": [["sku": "tea-earl-grey", "qty": 2], ["sku": "mug-blue", "qty": 1]], "expires_at": "2026-11-26T10:00:00Z"],
            "charge": ["payment_intent": "pi_3Nf8", "amount": 4250, "currency": "eur", "status": "succeeded", "captured": true],
            "order": ["id": "ord-20261126-0042", "total": 42.5, "customer": ["email": "c@example.com", "name": "Ada Lovelace", "address": ["city": "Lyon", "zip": "69002"]]],
            "notify": ["channel": "email", "message_id": "msg-77", "sent_at": "2026-11-26T09:00:01Z"],
        ]
        let list = JSONValue.array((0..<5_000).map { index -> JSONValue in
            let fields: [String: JSONValue] = [
                "sku": .string("sku-\(index)"), "qty": .number(Double(index % 7 + 1)), "price": .number(Double(index) * 0.25), "gift": .bool(index % 3 == 0),
            ]
            return JSONValue.object(fields)
        })
        for (name, value, rounds) in [("checkout", checkout, 20_000), ("list5000", list, 40)] {
            let text = value.jsonText
            let data = Data(text.utf8)
            let megabytes = Double(data.count * rounds) / 1_000_000
            func rate(_ body: () throws -> Void) rethrows -> Double {
                let started = ContinuousClock.now
                for _ in 0..<rounds { try body() }
                return megabytes / (ContinuousClock.now - started).seconds
            }
            let ownRead = try rate { _ = try JSONValue(jsonData: data) }
            let decoderRead = try rate { _ = try JSONDecoder().decode(JSONValue.self, from: data) }
            let serializationRead = try rate { _ = try JSONValue(foundation: JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) }
            let ownWrite = rate { _ = value.jsonText }
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            let encoderWrite = try rate { _ = try encoder.encode(value) }
            let serializationWrite = try rate { _ = try JSONSerialization.data(withJSONObject: value.foundationObject, options: [.sortedKeys, .fragmentsAllowed]) }
            print(String(
                format: "RESULT system=orchestrator workload=json document=%@ bytes=%d read_mb_s own=%.1f decoder=%.1f serialization=%.1f write_mb_s own=%.1f encoder=%.1f serialization=%.1f",
                name, data.count, ownRead, decoderRead, serializationRead, ownWrite, encoderWrite, serializationWrite))
        }
    }
}

extension JSONValue {
    /// A value from what `JSONSerialization` returns.
    init(foundation object: Any) throws {
        switch object {
        case is NSNull: self = .null
        case let number as NSNumber:
            // Foundation's booleans are NSNumbers of their own class.
            self = type(of: number) == type(of: NSNumber(value: true)) ? .bool(number.boolValue) : .number(number.doubleValue)
        case let string as String: self = .string(string)
        case let array as [Any]: self = .array(try array.map { try JSONValue(foundation: $0) })
        case let object as [String: Any]: self = .object(try object.mapValues { try JSONValue(foundation: $0) })
        default: throw CocoaError(.coderInvalidValue)
        }
    }

    /// What `JSONSerialization` writes.
    var foundationObject: Any {
        switch self {
        case .null: NSNull()
        case .bool(let value): NSNumber(value: value)
        case .number(let value): NSNumber(value: value)
        case .string(let value): value
        case .array(let items): items.map(\.foundationObject)
        case .object(let fields): fields.mapValues(\.foundationObject)
        }
    }
}
