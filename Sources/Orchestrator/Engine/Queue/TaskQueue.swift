import Foundation
import PostgresNIO

/// The queue: claims due tasks for workers and concludes their attempts (`conclude`,
/// `TaskQueue+Conclusion.swift`), runs transactional attempts, and rescues expired leases.
public struct TaskQueue: EnginePart {
    let core: EngineCore

    /// Claims up to `limit` due tasks for `owner`, only of `activities` (timers always; `nil`: any
    /// activity). Each activity limit is claimed within its room, and the slots are shared fairly
    /// between limited and unlimited work (see `ClaimPlanner`).
    public func claim(owner: String, limit: Int, activities: [String]? = nil) async throws -> [ClaimedTask] {
        try await claimWithSnapshots(owner: owner, limit: limit, activities: activities).map(\.task)
    }

    /// `claim`, with each task's instance as the claim saw it: its completion may be concluded
    /// from that (`concludeAtOnce`).
    func claimWithSnapshots(owner: String, limit: Int, activities: [String]? = nil) async throws -> [(task: ClaimedTask, snapshot: InstanceSnapshot)] {
        let patterns = try await activityLimitPatterns()
        if patterns.isEmpty {
            return try await claim(.unlimited, owner: owner, limit: limit, activities: activities)
        }
        var tasks: [(task: ClaimedTask, snapshot: InstanceSnapshot)] = []
        var hungry: [ClaimSource] = []
        for (source, share) in claimPlanner.plan(limit: limit, patterns: patterns) where tasks.count < limit {
            let asked = min(share, limit - tasks.count)
            let claimed = try await claim(source, owner: owner, limit: asked, activities: activities)
            tasks += claimed
            if claimed.count == asked { hungry.append(source) }
        }
        for source in hungry where tasks.count < limit {
            tasks += try await claim(source, owner: owner, limit: limit - tasks.count, activities: activities)
        }
        return tasks
    }

    /// Unlimited tasks in one statement; a limit's in a transaction that locks the limit first.
    private func claim(_ source: ClaimSource, owner: String, limit: Int, activities: [String]?) async throws -> [(task: ClaimedTask, snapshot: InstanceSnapshot)] {
        let now = clock.now()
        guard let pattern = source.pattern else {
            return try await client.withConnection { connection in
                try await store.claim(source, owner: owner, limit: limit, activities: activities, now: now, grace: configuration.leaseGrace, on: connection)
            }
        }
        return try await transaction { connection in
            guard let (maxRunning, running) = try await store.lockActivityLimit(pattern, on: connection), maxRunning > running else { return [] }
            return try await store.claim(
                source, owner: owner, limit: min(limit, maxRunning - running), activities: activities, now: now,
                grace: configuration.leaseGrace, on: connection)
        }
    }

    /// Whether activity limits exist: then a claim may have come back short because a limit was
    /// full, not because the queue was empty.
    var knowsActivityLimits: Bool { claimPlanner.knowsLimits }

    private func activityLimitPatterns() async throws -> [String] {
        if let cached = claimPlanner.cachedPatterns(maxAge: configuration.activityLimitsRefresh) { return cached }
        let patterns = try await operations.activityLimits().map(\.pattern.pattern)
        claimPlanner.remember(patterns)
        return patterns
    }
}
