import Foundation
import PostgresNIO

extension WorkflowLifecycle {
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
