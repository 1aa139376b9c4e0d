@testable import OrchestratorServer
import Testing

@Suite struct RateLimiterTests {
    @Test func aBucketAllowsItsBurstThenRefillsAtItsRate() {
        let start = ContinuousClock.now
        var bucket = TokenBucket(rate: .init(perSecond: 2, burst: 3), now: start)
        for _ in 0..<3 { #expect(bucket.take(now: start) == .allowed) }
        #expect(bucket.take(now: start) == .refused(retryAfter: .milliseconds(500)))
        #expect(bucket.take(now: start + .milliseconds(500)) == .allowed)
        #expect(bucket.take(now: start + .seconds(100)) == .allowed)  // refills up to the burst, no more
        #expect(bucket.tokens == 2)
    }

    @Test func settingsNameClassesRatesAndBursts() throws {
        let rates = try RateLimiter.parse("start=50/s:100, read=off")
        #expect(rates[.start] == .init(perSecond: 50, burst: 100))
        #expect(rates[.read] == nil)
        #expect(rates[.write] == RateLimiter.defaultRates[.write])
        #expect(try RateLimiter.parse("write=10/s")[.write] == .init(perSecond: 10, burst: 20))
        #expect(try RateLimiter.parse("off").isEmpty)
        for bad in ["start=50", "start=x/s", "starts=1/s", "start=1/s:0", "start=-1/s"] {
            #expect(throws: RateLimitSettingError.self, "\(bad)") { try RateLimiter.parse(bad) }
        }
    }
}
