import Foundation
import Orchestrator
import Synchronization
import Testing

/// `DatabaseClock` follows the database server's time from a host whose clock is off.
@Suite struct DatabaseClockTests {
    /// A host an hour ahead whose readings numbered by `early` (from 1, two per round trip: before
    /// the query, after it) come `late` seconds early: to the clock, a round trip that begins with
    /// one looks that much longer, as a reply delayed on a busy host does.
    final class HostWithEarlyReadings: WallClock {
        private let readings = Mutex(0)
        let late: TimeInterval
        let early: @Sendable (Int) -> Bool

        init(late: TimeInterval, early: @escaping @Sendable (Int) -> Bool) {
            self.late = late
            self.early = early
        }

        func now() -> Date {
            let reading = readings.withLock { count in
                count += 1
                return count
            }
            return Date().addingTimeInterval(3600 - (early(reading) ? late : 0))
        }
    }

    @Test func aMeasurementWhoseEveryReplyWasDelayedLeavesTheOffsetItCannotDisprove() async throws {
        try await TestDatabase.withHarness(workflows: []) { harness in
            // Readings 1–10 are the first measurement's five round trips; 11–20 the second's, each
            // beginning 4 s early (a stalled host): each midpoint is 2 s off, and says only that the
            // offset lies within 2 s of it, which the first measurement's does. 21 is the check's.
            let stalled = 11...20
            let clock = DatabaseClock(
                pool: harness.pool, host: HostWithEarlyReadings(late: 4) { stalled.contains($0) && $0 % 2 == 1 }, logger: harness.logger)
            try await clock.synchronize()
            try await clock.synchronize()
            #expect(abs(clock.now().timeIntervalSinceNow) < 0.5)
        }
    }

    @Test func theOffsetComesFromTheQuickestRoundTripNotFromADelayedReply() async throws {
        try await TestDatabase.withHarness(workflows: []) { harness in
            let clock = DatabaseClock(pool: harness.pool, host: HostWithEarlyReadings(late: 2) { $0 == 1 }, logger: harness.logger)
            try await clock.synchronize()
            // Off by half the slow round trip (1 s) had it been trusted; within half the quickest
            // real one otherwise (0.11 s was seen once among the suite's parallel tests).
            #expect(abs(clock.now().timeIntervalSinceNow) < 0.5)
        }
    }
}
