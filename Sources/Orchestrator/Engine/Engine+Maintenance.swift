import Foundation
import PostgresNIO

extension Engine {
    /// Returns tasks whose lease expired to the queue (the attempt counts, as `lease_expired`);
    /// an expired timer simply fires. Returns how many were rescued.
    @discardableResult
    public func rescueExpiredLeases(limit: Int = 500) async throws -> Int {
        let expired = try await client.withConnection { connection in
            try await store.expiredLeases(now: clock.now(), limit: limit, on: connection)
        }
        var rescued = 0
        for task in expired {
            let outcome: TaskOutcome =
                task.isTimer
                ? .completed(.null)
                : .failed(ActivityError(code: "lease_expired", message: "the worker holding the task stopped answering (lease expired)", retryAfter: .zero))
            if try await transaction({ try await finish(task, outcome: outcome, on: $0) }) {
                rescued += 1
                logger.warning("rescued task with expired lease", metadata: Self.metadata(task, ["lease.owner": "\(task.leaseOwner)"]))
            }
        }
        return rescued
    }

    /// Starts one instance per due fire time of each schedule. The instance id is derived from the
    /// fire time and the schedule row is locked, so any number of schedulers start it once.
    @discardableResult
    public func fireDueSchedules() async throws -> [WorkflowRecord] {
        try await transaction { connection in
            let now = clock.now()
            var started: [WorkflowRecord] = []
            for due in try await store.lockDueSchedules(now: now, on: connection) {
                let cron = try CronExpression(due.cron)
                let next = cron.next(after: max(due.fireAt, now)) ?? now.addingTimeInterval(86_400 * 365)
                try await store.advanceSchedule(type: due.type, fired: due.fireAt, next: next, on: connection)
                guard let definition = catalog.current(due.type) else { continue }
                let stamp = ISO8601DateFormatter().string(from: due.fireAt)
                let request = StartRequest(
                    type: due.type, input: definition.schedule?.input ?? .emptyObject, id: "\(due.type)@\(stamp)",
                    correlationID: "schedule:\(due.type)@\(stamp)")
                let (workflow, created) = try await start(request, on: connection)
                if created { started.append(workflow) }
            }
            return started
        }
    }

    /// Claims due tasks for `owner`: first unlimited ones, then each limited group within its room.
    public func claim(owner: String, limit: Int) async throws -> [ClaimedTask] {
        let now = clock.now()
        var tasks = try await client.withConnection { connection in
            try await store.claim(owner: owner, limit: limit, concurrencyKey: nil, now: now, grace: configuration.leaseGrace, on: connection)
        }
        for group in configuration.activityLimits where tasks.count < limit {
            let room = limit - tasks.count
            tasks += try await transaction { connection in
                guard let (groupLimit, running) = try await store.lockConcurrencyGroup(group.pattern.pattern, on: connection),
                    groupLimit > running
                else { return [] }
                return try await store.claim(
                    owner: owner, limit: min(room, groupLimit - running), concurrencyKey: group.pattern.pattern, now: now,
                    grace: configuration.leaseGrace, on: connection)
            }
        }
        return tasks
    }

    // MARK: Reads

    public func workflow(_ id: String) async throws -> WorkflowRecord {
        try await client.withConnection { try await record(id, on: $0) }
    }

    public func history(_ workflowID: String) async throws -> [EventRecord] {
        try await client.withConnection { try await store.history(workflowID, on: $0) }
    }

    public func workflows(type: String? = nil, status: WorkflowStatus? = nil, limit: Int = 50, after cursor: String? = nil) async throws -> [WorkflowRecord] {
        try await client.withConnection { try await store.listWorkflows(type: type, status: status, limit: limit, after: cursor, on: $0) }
    }
}
