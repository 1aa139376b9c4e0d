import Foundation
import PostgresNIO

extension Operations {
    /// The limits every worker enforces, from the database.
    public func activityLimits() async throws -> [ActivityLimit] {
        try await client.withConnection { try await store.activityLimits(on: $0) }
    }

    /// Sets (or changes) limits; tasks already queued or running count against them at once.
    public func setActivityLimits(_ limits: [ActivityLimit]) async throws {
        guard !limits.isEmpty else { return }
        _ = try await changeActivityLimits { connection in
            for limit in limits { try await store.upsertActivityLimit(limit, on: connection) }
            return true
        }
        for limit in limits {
            logger.info("activity limit set", metadata: [LogKey.limitPattern: "\(limit.pattern)", LogKey.limitMaxRunning: "\(limit.maxRunning)"])
        }
    }

    /// Removes a limit; its waiting tasks become unlimited (or fall under a broader limit) at once.
    /// Returns `false` when no limit had this pattern.
    @discardableResult
    public func removeActivityLimit(pattern: String) async throws -> Bool {
        let removed = try await changeActivityLimits { try await store.deleteActivityLimit(pattern: pattern, on: $0) }
        if removed { logger.info("activity limit removed", metadata: [LogKey.limitPattern: "\(pattern)"]) }
        return removed
    }

    /// Applies `change` (`false`: nothing changed) and stamps every unfinished task with the limit
    /// it counts against now. A transition writing tasks while the change commits stamped them
    /// from the old limits (its statement's snapshot came first), so once every transaction then
    /// in progress has ended, the tasks are stamped once more. Transitions themselves pay nothing
    /// for this: only the (rare) change waits.
    private func changeActivityLimits(_ change: @Sendable (PostgresConnection) async throws -> Bool) async throws -> Bool {
        let changed = try await transaction { connection in
            guard try await change(connection) else { return false }
            try await store.restampActivityLimits(on: connection)
            return true
        }
        guard changed else { return false }
        try await client.withConnection { connection in
            let inProgress = try await store.transactionsInProgress(on: connection)
            let deadline = ContinuousClock.now + Self.limitChangeWait
            while try await store.anyStillInProgress(inProgress, on: connection) {
                guard ContinuousClock.now < deadline else {
                    logger.warning("transactions older than an activity limit change still run; their tasks are stamped as they stand")
                    break
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            try await store.restampActivityLimits(on: connection)
        }
        claimPlanner.forget()
        return true
    }

    /// How long a limit change waits for the transactions in progress when it committed.
    static let limitChangeWait: Duration = .seconds(60)
}
