/// A token bucket: `burst` tokens, refilled at `perSecond`; a request takes one. A pure value:
/// the caller keeps it and passes the time.
struct TokenBucket: Sendable, Hashable {
    /// Requests per second and the burst allowed above that rate.
    struct Rate: Sendable, Hashable, CustomStringConvertible {
        var perSecond: Double
        var burst: Double
        var description: String { "\(perSecond.formatted())/s burst \(burst.formatted())" }
    }

    enum Decision: Sendable, Hashable {
        case allowed
        /// Refused: a token will be there after this long.
        case refused(retryAfter: Duration)
    }

    let rate: Rate
    private(set) var tokens: Double
    private(set) var updated: ContinuousClock.Instant

    init(rate: Rate, now: ContinuousClock.Instant) {
        self.rate = rate
        self.tokens = rate.burst
        self.updated = now
    }

    mutating func take(now: ContinuousClock.Instant) -> Decision {
        let elapsed = now - updated
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        tokens = min(rate.burst, tokens + max(0, seconds) * rate.perSecond)
        updated = now
        guard tokens >= 1 else {
            return .refused(retryAfter: .milliseconds(Int64(((1 - tokens) / rate.perSecond * 1000).rounded(.up))))
        }
        tokens -= 1
        return .allowed
    }
}

private extension Double {
    func formatted() -> String { self == rounded() ? String(Int(self)) : String(self) }
}
