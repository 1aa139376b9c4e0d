import Crypto
import Foundation
import Orchestrator

/// What a key may do: `client` starts, reads, signals and cancels workflows; `monitor` reads the
/// dashboard and metrics; `ops` may do everything.
enum Role: String, Sendable, CaseIterable {
    case client, ops, monitor
}

/// An API key. `name` is what audit records show (never the secret).
struct APIKey: Sendable {
    var name: String
    var role: Role
    var secret: String
}

/// The server's keys, matched in constant time.
struct APIKeyring: Sendable {
    let keys: [APIKey]
    /// SHA-256 of each key's secret, in `keys`' order: hashed once, not at every request.
    private let digests: [[UInt8]]

    init(keys: [APIKey]) {
        self.keys = keys
        digests = keys.map { Array(SHA256.hash(data: Data($0.secret.utf8))) }
    }

    /// Parses `role:key,role:key` (or `role:name:key`); a key's name defaults to its role and a
    /// fingerprint of the secret.
    static func parse(_ text: String, source: String) throws -> APIKeyring {
        var keys: [APIKey] = []
        for entry in text.split(whereSeparator: { $0 == "," || $0 == "\n" }) {
            let trimmed = entry.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let parts = trimmed.split(separator: ":", maxSplits: 2).map(String.init)
            guard parts.count >= 2, let role = Role(rawValue: parts[0]) else {
                throw ExitMessage("\(source): each key must look like role:key with role one of client, ops, monitor")
            }
            let secret = parts[parts.count - 1]
            guard secret.count >= 16 else { throw ExitMessage("\(source): a key must have at least 16 characters") }
            let name = parts.count == 3 ? parts[1] : "\(role.rawValue)-\(fingerprint(secret))"
            keys.append(APIKey(name: name, role: role, secret: secret))
        }
        guard !keys.isEmpty else { throw ExitMessage("\(source): no API keys") }
        return APIKeyring(keys: keys)
    }

    /// Fresh random keys for the three roles (dev mode).
    static func generate() -> APIKeyring {
        APIKeyring(keys: Role.allCases.map { role in
            var generator = SystemRandomNumberGenerator()
            let secret = "\(role.rawValue)_" + (0..<32).map { _ in String(UInt8.random(in: 0..<36, using: &generator), radix: 36) }.joined()
            return APIKey(name: "\(role.rawValue)-\(fingerprint(secret))", role: role, secret: secret)
        })
    }

    /// The `ORCHESTRATOR_API_KEYS` form of these keys.
    var serialized: String {
        keys.map { "\($0.role.rawValue):\($0.name):\($0.secret)" }.joined(separator: ",")
    }

    /// The key with this secret. Every key is compared, each in constant time (a digest's `==`),
    /// so timing reveals nothing.
    func authenticate(_ presented: String) -> APIKey? {
        let presentedDigest = SHA256.hash(data: Data(presented.utf8))
        var match: APIKey?
        for (key, digest) in zip(keys, digests) where presentedDigest == digest { match = key }
        return match
    }

    static func fingerprint(_ secret: String) -> String {
        var hex: [UInt8] = []
        for byte in SHA256.hash(data: Data(secret.utf8)).prefix(4) { Hex.append(byte, to: &hex) }
        return String(decoding: hex, as: UTF8.self)
    }
}
