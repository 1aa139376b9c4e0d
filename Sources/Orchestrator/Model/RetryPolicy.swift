/// How a failed task is retried: exponential backoff with jitter, bounded attempts and interval.
public struct RetryPolicy: Sendable, Hashable, Codable {
    public enum Jitter: String, Sendable, Hashable, Codable, CaseIterable {
        /// Exactly the exponential delay.
        case none
        /// Uniformly random in `0...delay` (spreads a thundering herd best).
        case full
        /// Half the delay plus a random half: never retries immediately.
        case equal
    }

    public var maxAttempts: Int
    public var initialInterval: Duration
    public var backoffCoefficient: Double
    public var maxInterval: Duration
    public var jitter: Jitter
    public var nonRetryable: [DottedPattern]

    public init(
        maxAttempts: Int = 3,
        initialInterval: Duration = .seconds(1),
        backoffCoefficient: Double = 2,
        maxInterval: Duration = .seconds(300),
        jitter: Jitter = .full,
        nonRetryable: [DottedPattern] = []
    ) {
        self.maxAttempts = maxAttempts
        self.initialInterval = initialInterval
        self.backoffCoefficient = backoffCoefficient
        self.maxInterval = maxInterval
        self.jitter = jitter
        self.nonRetryable = nonRetryable
    }

    public static let `default` = RetryPolicy()

    /// The exponential delay before the attempt after `attempt` (1-based), capped, before jitter.
    public func baseDelay(afterAttempt attempt: Int) -> Duration {
        let exponent = Double(max(attempt - 1, 0))
        let seconds = initialInterval.seconds * pow(backoffCoefficient, exponent)
        return .seconds(min(seconds, maxInterval.seconds))
    }

    /// The delay before the next attempt, jittered with `generator`.
    public func delay(afterAttempt attempt: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let base = baseDelay(afterAttempt: attempt).seconds
        let seconds: Double =
            switch jitter {
            case .none: base
            case .full: Double.random(in: 0...base, using: &generator)
            case .equal: base / 2 + Double.random(in: 0...(base / 2), using: &generator)
            }
        return .seconds(seconds)
    }

    /// Whether a failure with `code` on attempt `attempt` may run again.
    public func allowsRetry(code: String, retryable: Bool, attempt: Int) -> Bool {
        retryable && attempt < maxAttempts && !nonRetryable.matches(code)
    }
}

extension Duration {
    /// Seconds as a floating-point number.
    public var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
