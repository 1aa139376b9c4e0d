import Foundation
import Orchestrator
import Synchronization
import Testing

/// `DatabaseClock` follows the database server's time from a host whose clock is off.
@Suite struct DatabaseClockTests {
    /// A host an hour ahead whose first reading comes `late` seconds early: to the clock, the first
    /// round trip looks that much longer, as a reply delayed on a busy host does.
    final class HostWithOneSlowRoundTrip: WallClock {
        private let readings = Mutex(0)
        let late: TimeInterval

        init(late: TimeInterval) {
            self.late = late
        }

        func now() -> Date {
            let reading = readings.withLock { count in
                count += 1
                return count
            }
            return Date().addingTimeInterval(3600 - (reading == 1 ? late : 0))
        }
    }

    @Test func theOffsetComesFromTheQuickestRoundTripNotFromADelayedReply() async throws {
        try await TestDatabase.withHarness(workflows: []) { harness in
            let clock = DatabaseClock(pool: harness.pool, host: HostWithOneSlowRoundTrip(late: 2), logger: harness.logger)
            try await clock.synchronize()
            // Off by half the slow round trip (1 s) had it been trusted; within half the quickest
            // real one otherwise (0.11 s was seen once among the suite's parallel tests).
            #expect(abs(clock.now().timeIntervalSinceNow) < 0.5)
        }
    }
}
