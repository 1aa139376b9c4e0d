import Foundation
import HTTPTypes
import Hummingbird
import Orchestrator

extension Request {
    static let idempotencyKeyField = HTTPField.Name("Idempotency-Key")!

    /// The body as a JSON object (`{}` when empty), within the context's body limit.
    mutating func jsonObject(context: APIRequestContext, allowEmpty: Bool = false) async throws -> [String: JSONValue] {
        let buffer = try await collectBody(upTo: context.maxUploadSize)
        if buffer.readableBytesView.allSatisfy({ [0x20, 0x0A, 0x0D, 0x09].contains($0) }) {
            guard allowEmpty else { throw APIError.badRequest("request.body_required", "a JSON object body is required") }
            return [:]
        }
        let value: JSONValue
        do {
            // From the bytes: decoding them to a String first would replace invalid UTF-8 silently.
            value = try JSONValue(jsonData: Data(buffer.readableBytesView))
        } catch let error as OrchestratorError {
            throw APIError.badRequest("request.malformed_json", error.message)
        }
        guard let object = value.objectValue else {
            throw APIError(.unprocessableContent, "request.invalid", "the body must be a JSON object")
        }
        guard !value.containsNUL else {
            throw APIError(.unprocessableContent, "request.invalid", "strings may not contain the NUL character (\\u0000)")
        }
        return object
    }

    /// The `Idempotency-Key` header, checked for length.
    func idempotencyKey() throws -> String? {
        guard let key = headers[Self.idempotencyKeyField] else { return nil }
        guard (1...StoredValueLimits.identifierBytes).contains(key.utf8.count) else {
            throw APIError.badRequest("request.invalid_idempotency_key", "Idempotency-Key must have 1 to \(StoredValueLimits.identifierBytes) bytes")
        }
        return key
    }

    /// `limit` from the query: 1...`max`, `standard` when absent.
    func pageLimit(default standard: Int = 50, max: Int = 500) throws -> Int {
        guard let text = uri.queryParameters.get("limit") else { return standard }
        guard let limit = Int(text), (1...max).contains(limit) else {
            throw APIError.badRequest("request.invalid_limit", "limit must be a whole number from 1 to \(max)")
        }
        return limit
    }

    func query(_ name: String) throws -> String? {
        guard let value = uri.queryParameters.get(name), !value.isEmpty else { return nil }
        return try Self.clean(value, name)
    }

    /// `wait` from the query: how long to hold the answer until the workflow settles (`30s`,
    /// `500ms`; at most `WorkflowRoutes.longestWait`); `nil` when not asked.
    func wait() throws -> Duration? {
        guard let text = try query("wait") else { return nil }
        let longest = WorkflowRoutes.longestWait
        guard let wait = Duration(text: text), wait > .zero, wait <= longest else {
            throw APIError.badRequest("request.invalid_wait", "wait must be a duration from 1ms to \(longest.text), such as 30s or 500ms")
        }
        return wait
    }

    /// A time from the query (RFC 3339), refused with a clear error when it is not one.
    func timeQuery(_ name: String) throws -> Date? {
        guard let text = try query(name) else { return nil }
        guard let date = Representation.date(text) else {
            throw APIError.badRequest("request.invalid_time", "\(name) must be an RFC 3339 time such as 2026-11-26T10:00:00Z")
        }
        return date
    }

    /// PostgreSQL text cannot hold NUL: refuse it at the edge with a clear error.
    static func clean(_ value: String, _ name: String) throws -> String {
        guard !value.utf8.contains(0) else {
            throw APIError.badRequest("request.invalid", "'\(name)' may not contain the NUL character")
        }
        return value
    }
}

extension APIRequestContext {
    /// A path parameter, percent-decoded (an id may hold `/`, a space or any Unicode); refused if
    /// its encoding is broken or it holds NUL.
    func path(_ name: String) throws -> String {
        guard let decoded = try parameters.require(name).removingPercentEncoding else {
            throw APIError.badRequest("request.invalid_path", "'\(name)' in the path is not valid percent-encoded UTF-8")
        }
        return try Request.clean(decoded, name)
    }
}

extension String {
    /// This text as one path segment: each UTF-8 byte outside RFC 3986's unreserved characters (and
    /// `:` and `@`, which a segment may hold) percent-encoded.
    var pathSegment: String {
        var encoded: [UInt8] = []
        encoded.reserveCapacity(utf8.count)
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: ":"), UInt8(ascii: "@"):
                encoded.append(byte)
            default:
                encoded.append(UInt8(ascii: "%"))
                Hex.append(byte, to: &encoded, uppercase: true)
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }
}


/// Opaque keyset-pagination cursors: the last item's key, base64url-encoded.
enum Cursor {
    static func encode(_ key: String) -> String {
        Data(key.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ cursor: String?) throws -> String? {
        guard let cursor else { return nil }
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let key = String(data: data, encoding: .utf8), !key.isEmpty, !key.utf8.contains(0) else {
            throw APIError.badRequest("request.invalid_cursor", "cursor is not one this server issued")
        }
        return key
    }

    /// A page: `items`, and the cursor of the next page when `more` follow.
    static func page<T>(_ items: [T], more: Bool, key: (T) -> String, json: (T) -> JSONValue) -> JSONValue {
        let next: JSONValue = more ? items.last.map { .string(encode(key($0))) } ?? .null : .null
        return ["items": .array(items.map(json)), "next_cursor": next]
    }
}

extension Dictionary where Key == String, Value == JSONValue {
    /// This object, if it has no field but `allowed`; else 422 naming the field, the fields there
    /// are, and `hint` (how the body is shaped).
    func onlyFields(_ allowed: Set<String>, hint: String? = nil) throws -> Self {
        if let unknown = keys.sorted().first(where: { !allowed.contains($0) }) {
            let fields = allowed.sorted().map { "'\($0)'" }.joined(separator: ", ")
            throw APIError(.unprocessableContent, "request.invalid", "unknown field '\(unknown)': this body takes \(fields)" + (hint.map { "; \($0)" } ?? ""))
        }
        return self
    }
}
