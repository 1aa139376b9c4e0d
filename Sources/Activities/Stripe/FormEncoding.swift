import Foundation

/// Stripe's request bodies: `application/x-www-form-urlencoded` with nested keys written
/// `metadata[workflow_id]=…`, in the order given.
struct FormEncoding {
    private(set) var pairs: [(String, String)] = []

    init(_ pairs: [(String, String?)] = []) {
        for (name, value) in pairs { add(name, value) }
    }

    mutating func add(_ name: String, _ value: String?) {
        if let value { pairs.append((name, value)) }
    }

    var encoded: String {
        pairs.map { "\(Self.escape($0.0))=\(Self.escape($0.1))" }.joined(separator: "&")
    }

    /// Everything but unreserved characters is percent-encoded (RFC 3986), brackets included.
    static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}
