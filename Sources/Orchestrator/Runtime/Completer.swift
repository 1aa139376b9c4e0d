import Logging
import PostgresNIO
import Synchronization

/// Commits the outcomes of finished attempts, many per transaction when many finish together
/// (group commit); transactional activities run here, inside that transaction.
final class Completer: Sendable {
    enum Item: Sendable {
        case outcome(ClaimedTask, TaskOutcome)
        case transactional(ClaimedTask, ActivityRegistry.TransactionalBody, ActivityContext)
    }

    private let engine: Engine
    private let logger: Logger
    private struct Queue {
        /// Each continuation is resumed with `true` once the item is committed (or given up on).
        var items: [(Item, CheckedContinuation<Bool, Never>)] = []
        /// Set when `run()` has ended: later items are committed by their submitter.
        var closed = false
    }

    private let queue = Mutex(Queue())
    private let doorbell = Doorbell()
    static let maxBatch = 200

    init(engine: Engine, logger: Logger) {
        self.engine = engine
        self.logger = logger
    }

    /// Hands an item over; returns once it is committed (or given up on, to be rescued later).
    func submit(_ item: Item) async {
        let committed = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let queued = queue.withLock { queue -> Bool in
                guard !queue.closed else { return false }
                queue.items.append((item, continuation))
                return true
            }
            if queued { doorbell.ring() } else { continuation.resume(returning: false) }
        }
        if !committed { await commit([item]) }
    }

    /// Commits until cancelled, then drains what is left.
    func run() async {
        while true {
            let cancelled = Task.isCancelled
            let batch = queue.withLock { queue in
                let batch = Array(queue.items.prefix(Self.maxBatch))
                queue.items.removeFirst(batch.count)
                if batch.isEmpty && cancelled { queue.closed = true }
                return batch
            }
            if batch.isEmpty {
                if cancelled { return }
                await doorbell.wait(timeout: .seconds(1))
                continue
            }
            await commit(batch.map(\.0))
            for (_, continuation) in batch { continuation.resume(returning: true) }
        }
    }

    private func commit(_ items: [Item]) async {
        for attempt in 1...5 {
            do {
                try await engine.transaction { connection in
                    for item in items { try await process(item, on: connection) }
                }
                return
            } catch {
                logger.warning("completion batch failed", metadata: [LogKey.error: "\(String(reflecting: error))", "attempt": "\(attempt)", "batch": "\(items.count)"])
                if items.count > 1 { break }
                try? await Task.sleep(for: .milliseconds(200 * (1 << attempt)))
            }
        }
        guard items.count > 1 else { return }
        // One item broke the batch: commit each alone so the others are not held back.
        for item in items { await commit([item]) }
    }

    private func process(_ item: Item, on connection: PostgresConnection) async throws {
        switch item {
        case .outcome(let task, let outcome):
            try await engine.finish(task, outcome: outcome, on: connection)
        case .transactional(let task, let body, let context):
            try await connection.query("SAVEPOINT activity", logger: logger)
            let outcome: TaskOutcome
            do {
                let result = try await body(task.input, context, connection)
                // A result the engine will refuse must not leave its writes behind.
                guard !result.containsNUL else { throw ActivityError.nonRetryable("activity.invalid_output", "the result holds a NUL character") }
                try await connection.query("RELEASE SAVEPOINT activity", logger: logger)
                outcome = .completed(result)
            } catch {
                try await connection.query("ROLLBACK TO SAVEPOINT activity", logger: logger)
                outcome = .failed(ActivityError(error))
            }
            try await engine.finish(task, outcome: outcome, on: connection)
        }
    }
}

extension ActivityError {
    /// Wraps any error an activity threw; unknown errors are retryable.
    init(_ error: any Error) {
        if let error = error as? ActivityError {
            self = error
        } else if let error = error as? OrchestratorError {
            self = ActivityError(code: error.code.rawValue, message: error.message)
        } else if error is CancellationError {
            self = ActivityError(code: "cancelled", message: "the attempt was cancelled")
        } else {
            self = ActivityError(code: "activity.error", message: String(describing: error))
        }
    }
}
