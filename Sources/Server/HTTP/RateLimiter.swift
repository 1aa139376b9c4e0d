import Foundation
import Synchronization

/// Per-API-key request budgets, one token bucket per key and route class. Shared by every
/// request of the server, so the buckets sit behind a lock (each decision takes microseconds).
final class RateLimiter: Sendable {
    /// The classes of routes that have separate budgets.
    enum RouteClass: String, Sendable, Hashable, CaseIterable {
        /// `POST /v1/workflows`: each start buys worker time.
        case start
        /// Other writes: signals, cancels, dead-letter actions, inventory, waitlist.
        case write
        /// Reads.
        case read
    }

    let rates: [RouteClass: TokenBucket.Rate]
    private let buckets = Mutex<[String: TokenBucket]>([:])

    init(rates: [RouteClass: TokenBucket.Rate]) {
        self.rates = rates
    }

    static let defaultRates: [RouteClass: TokenBucket.Rate] = [
        .start: .init(perSecond: 200, burst: 400), .write: .init(perSecond: 200, burst: 400), .read: .init(perSecond: 500, burst: 1_000),
    ]

    /// Takes a token of `key`'s bucket for `routeClass`; a class without a rate is not limited.
    func take(key: String, routeClass: RouteClass, now: ContinuousClock.Instant = .now) -> TokenBucket.Decision {
        guard let rate = rates[routeClass] else { return .allowed }
        return buckets.withLock { buckets in
            let name = "\(routeClass.rawValue) \(key)"
            var bucket = buckets[name] ?? TokenBucket(rate: rate, now: now)
            let decision = bucket.take(now: now)
            buckets[name] = bucket
            return decision
        }
    }

    /// Parses `start=50/s:100,read=200/s` (rate per second, optional burst, default twice the
    /// rate); `off` limits nothing. Classes not named keep their defaults.
    static func parse(_ text: String) throws -> [RouteClass: TokenBucket.Rate] {
        let text = text.trimmingCharacters(in: .whitespaces)
        if text == "off" { return [:] }
        var rates = defaultRates
        for entry in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let routeClass = RouteClass(rawValue: parts[0]) else {
                throw RateLimitSettingError(entry: entry, reason: "expected <class>=<n>/s[:burst] with class \(RouteClass.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if parts[1] == "off" {
                rates[routeClass] = nil
                continue
            }
            let numbers = parts[1].split(separator: ":", maxSplits: 1).map(String.init)
            guard numbers[0].hasSuffix("/s"), let perSecond = Double(numbers[0].dropLast(2)), perSecond > 0, perSecond.isFinite else {
                throw RateLimitSettingError(entry: entry, reason: "the rate must look like 50/s")
            }
            let burst = numbers.count == 2 ? Double(numbers[1]) : perSecond * 2
            guard let burst, burst >= 1, burst.isFinite else { throw RateLimitSettingError(entry: entry, reason: "the burst must be a number of at least 1") }
            rates[routeClass] = .init(perSecond: perSecond, burst: burst)
        }
        return rates
    }
}

struct RateLimitSettingError: Error, CustomStringConvertible {
    var entry: String
    var reason: String
    var description: String { "rate limits: '\(entry)': \(reason)" }
}
