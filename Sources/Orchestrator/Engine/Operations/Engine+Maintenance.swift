import Foundation
import PostgresNIO

extension Engine {
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

    /// Forgets workers not heard from for `after` (default a day): their rows go, so the workers
    /// table does not grow with every process ever started. Returns how many.
    @discardableResult
    public func forgetSilentWorkers(after: Duration = .seconds(86_400)) async throws -> Int {
        let since = clock.now().addingTimeInterval(-after.seconds)
        return try await client.withConnection { try await store.forgetWorkers(silentSince: since, on: $0) }
    }

    /// Deletes finished instances older than their retention (the configured one, or their type's
    /// `retention`) with their history: batches of `batch`, each its own short transaction, so no
    /// lock is held for long; at most `maxBatches` per call. Returns how many instances went.
    @discardableResult
    public func pruneFinishedWorkflows(batch: Int = 500, maxBatches: Int = 20) async throws -> Int {
        let now = clock.now()
        let defaultCutoff = now.addingTimeInterval(-configuration.retention.seconds)
        let cutoffs = Dictionary(catalog.all.compactMap { definition in
            definition.retention.map { (definition.type, now.addingTimeInterval(-$0.seconds)) }
        }, uniquingKeysWith: { first, _ in first })
        var pruned = 0
        for _ in 0..<maxBatches {
            let deleted = try await transaction { connection in
                try await store.pruneFinishedWorkflows(defaultCutoff: defaultCutoff, cutoffs: cutoffs, limit: batch, on: connection)
            }
            pruned += deleted
            if deleted < batch { break }
        }
        if pruned > 0 { logger.info("finished workflows past their retention deleted", metadata: ["workflows": "\(pruned)"]) }
        return pruned
    }

    /// Starts one instance per due fire time of each schedule this process knows the type of, each
    /// schedule in its own transaction. The schedule row is locked and the instance id derived from
    /// the fire time, so any number of schedulers start it once. A fire whose id another workflow
    /// already holds is skipped (logged); a type this process does not know is left to one that does.
    @discardableResult
    public func fireDueSchedules() async throws -> [WorkflowRecord] {
        let now = clock.now()
        let known = catalog.all.filter { $0.schedule != nil }.map(\.type)
        let due = try await client.withConnection { try await store.dueSchedules(types: known, now: now, on: $0) }
        var started: [WorkflowRecord] = []
        for type in due {
            if let workflow = try await fire(type, now: now) { started.append(workflow) }
        }
        return started
    }

    private func fire(_ type: String, now: Date) async throws -> WorkflowRecord? {
        try await transaction { connection in
            guard let due = try await store.lockDueSchedule(type: type, now: now, on: connection),
                let definition = catalog.current(type)
            else { return nil }
            let cron = try CronExpression(due.cron)
            let next = cron.next(after: max(due.fireAt, now)) ?? now.addingTimeInterval(86_400 * 365)
            try await store.advanceSchedule(type: type, fired: due.fireAt, next: next, on: connection)
            let id = Self.scheduledID(type: type, fireAt: due.fireAt)
            let request = StartRequest(type: type, input: definition.schedule?.input ?? .emptyObject, id: id, correlationID: "schedule:\(id)")
            do {
                let (workflow, created) = try await start(request, on: connection)
                return created ? workflow : nil
            } catch let error as OrchestratorError where error.code == .workflowIDConflict {
                logger.error(
                    "scheduled fire skipped: its workflow id is taken by another request",
                    metadata: [LogKey.workflowType: "\(type)", LogKey.workflowID: "\(id)", LogKey.error: "\(error)"])
                return nil
            }
        }
    }

    /// The id of the instance a schedule starts for one fire time.
    static func scheduledID(type: String, fireAt: Date) -> String {
        "\(type)@\(ISO8601DateFormatter().string(from: fireAt))"
    }
}
