import Synchronization

/// Decides how a claim round shares its slots among the unlimited queue and each activity limit,
/// so limited work is never starved by a backlog of unlimited work (nor the reverse): the slots
/// are split evenly, the source asked first rotates every round, and what one source leaves
/// goes to those that had more. It also keeps this process's copy of the limits' patterns.
final class ClaimPlanner: Sendable {
    private struct State {
        var patterns: [String] = []
        var fetchedAt: ContinuousClock.Instant?
        var round = 0
    }

    private let state = Mutex(State())

    /// The limits' patterns if fetched less than `maxAge` ago.
    func cachedPatterns(maxAge: Duration) -> [String]? {
        state.withLock { state in
            guard let fetchedAt = state.fetchedAt, ContinuousClock.now - fetchedAt < maxAge else { return nil }
            return state.patterns
        }
    }

    /// The last fetch found activity limits: a claim may have come back short because one was full.
    var knowsLimits: Bool { state.withLock { !$0.patterns.isEmpty } }

    func remember(_ patterns: [String]) {
        state.withLock { state in
            state.patterns = patterns
            state.fetchedAt = .now
        }
    }

    func forget() {
        state.withLock { $0.fetchedAt = nil }
    }

    /// This round's sources in the order to ask them, each with its even share of `limit`.
    func plan(limit: Int, patterns: [String]) -> [(source: ClaimSource, share: Int)] {
        let sources = [ClaimSource.unlimited] + patterns.map { ClaimSource.limited(pattern: $0) }
        let first = state.withLock { state in
            state.round &+= 1
            return state.round % sources.count
        }
        let share = max(1, limit / sources.count)
        return (sources[first...] + sources[..<first]).map { ($0, share) }
    }
}
