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

    /// A host an hour ahead that can stall: while stalled, every reading taken before a query comes
    /// `late` seconds early, so every round trip looks that much longer.
    final class HostThatStalls: WallClock {
        private let state = Mutex((stalled: false, readings: 0))
        let late: TimeInterval

        init(late: TimeInterval) {
            self.late = late
        }

        func stall(_ stalled: Bool) {
            state.withLock { $0.stalled = stalled }
        }

        func now() -> Date {
            let early = state.withLock { state in
                state.readings += 1
                return state.stalled && state.readings % 2 == 1
            }
            return Date().addingTimeInterval(3600 - (early ? late : 0))
        }
    }

    @Test func aMeasurementWhoseEveryReplyWasDelayedLeavesTheOffsetItCannotDisprove() async throws {
        try await TestDatabase.withHarness(workflows: []) { harness in
            let host = HostThatStalls(late: 4)
            let clock = DatabaseClock(pool: harness.pool, host: host, logger: harness.logger)
            try await clock.synchronize()
            #expect(abs(clock.now().timeIntervalSinceNow) < 0.5)
            // Every round trip looks 4 s long: each midpoint is 2 s off, and each says only that the
            // offset lies within 2 s of it, which the current one does.
            host.stall(true)
            try await clock.synchronize()
            host.stall(false)
            #expect(abs(clock.now().timeIntervalSinceNow) < 0.5)
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
