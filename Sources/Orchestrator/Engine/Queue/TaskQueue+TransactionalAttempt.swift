import Foundation
import PostgresNIO
import Synchronization

extension TaskQueue {
    /// Runs an attempt of a transactional activity and records its outcome, in one transaction of
    /// its own: the instance and the task are locked and the lease checked *before* the activity
    /// writes anything, so a lost lease (rescued, cancelled, or already committed by an earlier
    /// try whose reply was lost) writes nothing. The activity runs in a savepoint, so a failure
    /// rolls back only its writes, and under its timeout: its statements (and only its) are cut at
    /// the timeout (`statement_timeout`), and an activity still running a little after it is
    /// abandoned, its session ended, and the attempt recorded as `timeout`.
    ///
    /// Returns whether the outcome was recorded (`false`: the lease was gone).
    @discardableResult
    func runTransactionalAttempt(
        _ task: ClaimedTask, body: @escaping ActivityRegistry.TransactionalBody, context: ActivityContext
    ) async throws -> Bool {
        let session = Mutex<SessionTransaction?>(nil)
        let phase = Mutex(AttemptPhase.locking)
        let work = Task { () -> Result<Bool, any Error> in
            do {
                return .success(try await transaction { connection in
                    // Known from the start, so the session can be ended even while it waits for a lock.
                    let transaction = try await store.currentTransaction(on: connection)
                    session.withLock { $0 = transaction }
                    return try await attempt(task, body: body, context: context, phase: phase, on: connection)
                })
            } catch {
                return .failure(error)
            }
        }
        // Only the activity is held to its timeout. Its statement timeout answers at the deadline:
        // allow it a moment, then a moment more once cancelled. The locks before it and the
        // bookkeeping after it wait as long as the session's own timeouts allow.
        while true {
            let cutoff = phase.withLock { $0.cutoff(timeout: task.timeout) }
            let wait = cutoff.map { max($0 - ContinuousClock.now, .zero) } ?? .seconds(1)
            if let result = await Deadline.value(of: work, within: wait) { return try result.get() }
            guard !Task.isCancelled else { throw CancellationError() }
            if let cutoff = phase.withLock({ $0.cutoff(timeout: task.timeout) }), ContinuousClock.now >= cutoff { break }
        }
        work.cancel()
        let result = await Deadline.value(of: work, within: .seconds(2))
        if case .success(let concluded) = result { return concluded }
        guard !Task.isCancelled else { throw CancellationError() }
        // A failure: cancelled mid-transaction, nothing of it committed (or the lease is gone), and
        // the attempt failed by its timeout whatever error the cancellation surfaced as. No result:
        // the activity ignores cancellation, so its session is ended from another one.
        if result == nil {
            if let transaction = session.withLock({ $0 }) {
                try? await client.withConnection { try await store.terminateSession(running: transaction, on: $0) }
            }
            logger.warning("transactional activity ignored its timeout; its session was ended", metadata: Self.metadata(task, [:]))
        }
        return try await transaction { try await conclude(task, outcome: .failed(Self.timeoutError(task.timeout)), on: $0) }
    }

    private func attempt(
        _ task: ClaimedTask, body: ActivityRegistry.TransactionalBody, context: ActivityContext, phase: borrowing Mutex<AttemptPhase>,
        on connection: PostgresConnection
    ) async throws -> Bool {
        guard var workflow = try await store.lockWorkflow(task.workflowID, now: clock.now(), on: connection),
            try await store.lockLease(task, on: connection)
        else {
            EngineMetrics.attemptEnded(activity: task.activity, outcome: "lease_lost")
            logger.info("lease lost before the transactional activity ran; it did not run", metadata: Self.metadata(task, [:]))
            return false
        }
        let started = ContinuousClock.now
        let deadline = started + task.timeout
        phase.withLock { $0 = .running(since: started) }
        try await connection.query("SAVEPOINT activity", logger: logger)
        let outcome: TaskOutcome
        do {
            // Only the activity's statements run under its timeout: the locks before and the
            // bookkeeping after keep the session's, so a loaded database fails no attempt there.
            try await store.limitStatements(to: task.timeout, on: connection)
            let result = try await body(task.input, context, connection)
            guard ContinuousClock.now < deadline else { throw Self.timeoutError(task.timeout) }
            // A result the engine will refuse must not leave its writes behind.
            if let problem = Self.unstorable(result) { throw ActivityError.nonRetryable("activity.invalid_output", problem) }
            try await connection.query("RELEASE SAVEPOINT activity", logger: logger)
            outcome = .completed(result)
        } catch {
            try await connection.query("ROLLBACK TO SAVEPOINT activity", logger: logger)
            outcome = .failed(ContinuousClock.now >= deadline ? Self.timeoutError(task.timeout) : ActivityError(error))
        }
        phase.withLock { $0 = .bookkeeping }
        // A rollback to the savepoint undid the limit with the rest; a release kept it.
        if case .completed = outcome { try await store.unlimitStatements(on: connection) }
        EngineMetrics.attemptDuration(activity: task.activity, ContinuousClock.now - started)
        workflow.now = clock.now()
        var locked = [workflow.id: workflow]
        return try await conclude([FinishedAttempt(task: task, outcome: outcome)], in: &locked, on: connection) == [true]
    }

    static func timeoutError(_ timeout: Duration) -> ActivityError {
        ActivityError(code: "timeout", message: "the attempt did not finish within \(timeout.text)")
    }
}

/// Where a transactional attempt is: only `running` is held to the activity's timeout.
enum AttemptPhase: Sendable {
    /// Locking the instance and the task (the session's lock timeout applies).
    case locking
    case running(since: ContinuousClock.Instant)
    /// Recording the outcome (the session's statement timeout applies).
    case bookkeeping

    /// When a still-running attempt is abandoned: a second after its timeout.
    func cutoff(timeout: Duration) -> ContinuousClock.Instant? {
        guard case .running(let since) = self else { return nil }
        return since + timeout + .seconds(1)
    }
}
