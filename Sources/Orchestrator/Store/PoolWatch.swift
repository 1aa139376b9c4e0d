/// The rule that decides when `DatabasePool` replaces PostgresNIO's pool: a pure value fed with
/// what each check saw.
///
/// A pool that cannot serve while the database is away is expected. A pool that still cannot serve
/// once the database answers again is stuck, if it has been failing since the outage or it says
/// so itself (its circuit breaker). A pool that is merely slow while the database answers and
/// nothing was away is busy, and is left alone.
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

    /// The database failed a check since the pool last served.
    private(set) var databaseWasAway = false

    mutating func decide(after observation: Observation) -> Decision {
        switch observation {
        case .served:
            databaseWasAway = false
            return .keep
        case .notServed(databaseAnswers: false, _):
            databaseWasAway = true
            return .keep
        case .notServed(databaseAnswers: true, let circuitOpen):
            guard databaseWasAway || circuitOpen else { return .keep }
            databaseWasAway = false
            return .replace
        }
    }
}
