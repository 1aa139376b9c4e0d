import Crypto
import Foundation

/// Verifies a `Stripe-Signature` header: `t=<unix time>,v1=<hex HMAC-SHA256 of "t.payload">,…`.
/// Any `v1` matching any configured secret passes (secrets rotate; Stripe signs with each live
/// one), compared in constant time; a timestamp more than `tolerance` away from now is stale.
struct StripeSignature {
    enum Verdict: Equatable {
        case valid
        case malformed
        case stale
        case mismatch
    }

    let secrets: [String]
    var tolerance: TimeInterval = 300

    func verify(header: String, payload: [UInt8], now: Date) -> Verdict {
        var timestamp: Int?
        var signatures: [[UInt8]] = []
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { continue }
            switch pair[0] {
            case "t": timestamp = Int(pair[1])
            case "v1": if let bytes = Self.bytes(hex: pair[1]) { signatures.append(bytes) }
            default: continue  // v0 (test-mode legacy) and unknown schemes are ignored, as Stripe advises
            }
        }
        guard let timestamp, !signatures.isEmpty else { return .malformed }
        guard abs(now.timeIntervalSince1970 - TimeInterval(timestamp)) <= tolerance else { return .stale }
        let signed = Array("\(timestamp).".utf8) + payload
        for secret in secrets {
            let key = SymmetricKey(data: Array(secret.utf8))
            for signature in signatures where HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: signed, using: key) {
                return .valid
            }
        }
        return .mismatch
    }

    private static func bytes(hex: String) -> [UInt8]? {
        guard hex.count == 64 else { return nil }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}
