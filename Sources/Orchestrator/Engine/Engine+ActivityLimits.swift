import Foundation
import PostgresNIO

extension Engine {
    /// The limits every worker enforces, from the database.
    public func activityLimits() async throws -> [ActivityLimit] {
        try await client.withConnection { try await store.activityLimits(on: $0) }
    }

    /// Sets (or changes) a limit; tasks already queued or running count against it at once.
    public func setActivityLimit(_ limit: ActivityLimit) async throws {
        try await transaction { connection in
            try await store.lockActivityLimitsExclusively(on: connection)
            try await store.upsertActivityLimit(limit, on: connection)
            try await store.restampActivityLimits(on: connection)
        }
        claimPlanner.forget()
        logger.info("activity limit set", metadata: [LogKey.limitPattern: "\(limit.pattern)", LogKey.limitMaxRunning: "\(limit.maxRunning)"])
    }

    /// Removes a limit; its waiting tasks become unlimited (or fall under a broader limit) at once.
    /// Returns `false` when no limit had this pattern.
    @discardableResult
    public func removeActivityLimit(pattern: String) async throws -> Bool {
        let removed = try await transaction { connection in
            try await store.lockActivityLimitsExclusively(on: connection)
            guard try await store.deleteActivityLimit(pattern: pattern, on: connection) else { return false }
            try await store.restampActivityLimits(on: connection)
            return true
        }
        claimPlanner.forget()
        if removed { logger.info("activity limit removed", metadata: [LogKey.limitPattern: "\(pattern)"]) }
        return removed
    }
}
