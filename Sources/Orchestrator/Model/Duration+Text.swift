extension Duration {
    /// Parses the workflow-file form: `250ms`, `10s`, `5m`, `2h`, `7d` (a whole number and a unit).
    public init?(text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let digits = trimmed.prefix { $0.isNumber }
        guard !digits.isEmpty, let amount = Int64(digits) else { return nil }
        switch trimmed.dropFirst(digits.count) {
        case "ms": self = .milliseconds(amount)
        case "s": self = .seconds(amount)
        case "m": self = .seconds(amount * 60)
        case "h": self = .seconds(amount * 3600)
        case "d": self = .seconds(amount * 86_400)
        default: return nil
        }
    }

    /// The shortest workflow-file form of this duration.
    public var text: String {
        let ms = milliseconds
        for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000)] where ms % size == 0 && ms != 0 {
            return "\(ms / size)\(unit)"
        }
        return "\(ms)ms"
    }
}

import Foundation
