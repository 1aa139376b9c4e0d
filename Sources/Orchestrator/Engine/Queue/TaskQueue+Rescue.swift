import Foundation
import PostgresNIO

extension TaskQueue {
    /// Returns tasks whose lease expired to the queue (the attempt counts, as `lease_expired`, and
    /// the retry policy's backoff applies); an expired timer or delivery simply happens. Returns how many were rescued.
    @discardableResult
    public func rescueExpiredLeases(limit: Int = 500) async throws -> Int {
        let expired = try await client.withConnection { connection in
            try await store.expiredLeases(now: clock.now(), limit: limit, on: connection)
        }
        var rescued = 0
        for task in expired {
            let outcome: TaskOutcome =
                task.kind != .activity
                ? .completed(task.input)
                : .failed(ActivityError(code: "lease_expired", message: "the worker holding the task stopped answering (lease expired)"))
            if try await transaction({ try await conclude(task, outcome: outcome, on: $0) }) {
                rescued += 1
                logger.warning("rescued task with expired lease", metadata: Self.metadata(task, [LogKey.leaseOwner: "\(task.leaseOwner)"]))
            }
        }
        return rescued
    }
}
