@testable import Orchestrator
import Testing

/// When `DatabasePool` replaces PostgresNIO's pool, decided from what one check saw.
@Suite struct PoolWatchTests {
    @Test func aPoolWhoseBreakerIsOpenIsReplacedOnceTheDatabaseAnswers() {
        #expect(PoolWatch.decide(after: .notServed(databaseAnswers: true, circuitOpen: true)) == .replace)
        #expect(PoolWatch.decide(after: .notServed(databaseAnswers: false, circuitOpen: true)) == .keep)
    }

    /// A slow pool may hold live connections (a busy one, on a loaded machine): replacing it would
    /// cut the transactions in flight.
    @Test func aPoolThatIsOnlySlowOrServesIsKept() {
        #expect(PoolWatch.decide(after: .notServed(databaseAnswers: true, circuitOpen: false)) == .keep)
        #expect(PoolWatch.decide(after: .notServed(databaseAnswers: false, circuitOpen: false)) == .keep)
        #expect(PoolWatch.decide(after: .served) == .keep)
    }
}
