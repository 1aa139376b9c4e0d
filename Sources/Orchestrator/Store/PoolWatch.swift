/// The rule that decides when `DatabasePool` replaces PostgresNIO's pool: a pure value fed with
/// what each check saw.
///
/// Replaced: a pool whose circuit breaker is open (it refuses every lease at once) while the
/// database answers a connection of the check's own. The breaker opens only when the pool has had
/// no connection for a minute, so a pool replaced holds no live connection: nothing in flight is
/// cut. Kept: a pool that serves; one that is only slow (busy, or between its own reconnection
/// attempts, which come at most a quarter of the outage's length after the database is back:
/// before the breaker opens, that is under ~17 s); any pool while the database does not answer.
struct PoolWatch: Sendable, Equatable {
    /// What one check saw.
    enum Observation: Sendable, Equatable {
        /// The pool ran a query within the check's patience.
        case served
        /// The pool did not serve; `databaseAnswers` is what a connection of the check's own found,
        /// `circuitOpen` whether the pool refused the lease at once because connecting has failed for long.
        case notServed(databaseAnswers: Bool, circuitOpen: Bool)
    }

    enum Decision: Sendable, Equatable {
        case keep
        case replace
    }

    static func decide(after observation: Observation) -> Decision {
        observation == .notServed(databaseAnswers: true, circuitOpen: true) ? .replace : .keep
    }
}
