@testable import Orchestrator
import Testing

/// When `DatabasePool` replaces PostgresNIO's pool, decided from what its checks saw.
@Suite struct PoolWatchTests {
    @Test func aPoolStillFailingAfterTheDatabaseCameBackIsReplacedOnce() {
        var watch = PoolWatch()
        #expect(watch.decide(after: .notServed(databaseAnswers: false, circuitOpen: false)) == .keep)
        #expect(watch.decide(after: .notServed(databaseAnswers: false, circuitOpen: true)) == .keep)
        #expect(watch.decide(after: .notServed(databaseAnswers: true, circuitOpen: false)) == .replace)
        // The new pool gets its own chance: slow while nothing was away is not stuck.
        #expect(watch.decide(after: .notServed(databaseAnswers: true, circuitOpen: false)) == .keep)
    }

    @Test func aPoolThatRecoversOnItsOwnIsKept() {
        var watch = PoolWatch()
        #expect(watch.decide(after: .notServed(databaseAnswers: false, circuitOpen: false)) == .keep)
        #expect(watch.decide(after: .served) == .keep)
        #expect(watch.decide(after: .notServed(databaseAnswers: true, circuitOpen: false)) == .keep)
    }

    @Test func aBusyPoolIsKeptButOneWhoseBreakerIsOpenIsReplaced() {
        var watch = PoolWatch()
        #expect(watch.decide(after: .notServed(databaseAnswers: true, circuitOpen: false)) == .keep)
        #expect(watch.decide(after: .notServed(databaseAnswers: true, circuitOpen: true)) == .replace)
    }
}
