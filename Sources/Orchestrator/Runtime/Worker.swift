import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Claims ready tasks in batches and runs their activities, up to `concurrency` at once.
///
/// `LISTEN/NOTIFY` wakes it as soon as work is enqueued; polling every `pollInterval` is the
/// fallback (and what fires durable timers). On graceful shutdown it stops claiming, lets the
/// running attempts finish and commits them.
public final class Worker: Service {
    public struct Configuration: Sendable {
        public var id: String
        public var concurrency: Int
        public var batchSize: Int = 32
        public var pollInterval: Duration = .seconds(1)
        public var heartbeatInterval: Duration = .seconds(5)
        public init(id: String = "worker-\(UUID().uuidString.prefix(8).lowercased())", concurrency: Int) {
            self.id = id
            self.concurrency = concurrency
        }
    }

    let engine: Engine
    let registry: ActivityRegistry
    let configuration: Configuration
    let database: DatabaseConfiguration
    let logger: Logger
    private let doorbell = Doorbell()
    private let inFlight = Mutex(0)
    private let stopping = Mutex(false)

    public init(engine: Engine, registry: ActivityRegistry, database: DatabaseConfiguration, configuration: Configuration, logger: Logger) {
        self.engine = engine
        self.registry = registry
        self.database = database
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: LogKey.workerID] = "\(configuration.id)"
        self.logger = logger
    }

    public func run() async throws {
        let completer = Completer(engine: engine, logger: logger)
        await withTaskGroup(of: Void.self) { background in
            background.addTask { await completer.run() }
            background.addTask { await self.listen() }
            background.addTask { await self.heartbeat() }
            await withGracefulShutdownHandler {
                await self.claimLoop(completer: completer)
            } onGracefulShutdown: {
                self.stopping.withLock { $0 = true }
                self.doorbell.ring()
            }
            // Every attempt has been handed to the completer: stop the helpers, drain the completer.
            background.cancelAll()
        }
        try? await engine.client.withConnection { connection in
            try await engine.store.markStopped(workerID: configuration.id, now: engine.clock.now(), on: connection)
        }
        logger.info("worker stopped")
    }

    private func claimLoop(completer: Completer) async {
        logger.info("worker started", metadata: ["concurrency": "\(configuration.concurrency)"])
        await withDiscardingTaskGroup { group in
            var failures = 0
            while !stopping.withLock({ $0 }) && !Task.isCancelled {
                let free = configuration.concurrency - inFlight.withLock { $0 }
                if free > 0 {
                    let requested = min(free, configuration.batchSize)
                    do {
                        let tasks = try await engine.claim(owner: configuration.id, limit: requested)
                        failures = 0
                        inFlight.withLock { $0 += tasks.count }
                        for task in tasks {
                            group.addTask {
                                await self.execute(task, completer: completer)
                                self.inFlight.withLock { $0 -= 1 }
                                self.doorbell.ring()
                            }
                        }
                        if tasks.count == requested { continue }
                    } catch {
                        failures += 1
                        logger.warning("claim failed", metadata: [LogKey.error: "\(String(reflecting: error))"])
                        try? await Task.sleep(for: .milliseconds(min(100 * (1 << min(failures, 6)), 5000)))
                        continue
                    }
                }
                await doorbell.wait(timeout: configuration.pollInterval)
            }
        }
    }

    /// Claims what is due now, runs it and commits the outcomes; returns how many tasks ran.
    /// The stepping primitive of tests and one-shot tools; `run()` is this in a loop.
    public func runDue() async throws -> Int {
        let tasks = try await engine.claim(owner: configuration.id, limit: configuration.batchSize)
        guard !tasks.isEmpty else { return 0 }
        let completer = Completer(engine: engine, logger: logger)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await completer.run() }
            await withTaskGroup(of: Void.self) { attempts in
                for task in tasks { attempts.addTask { await self.execute(task, completer: completer) } }
            }
            group.cancelAll()
        }
        return tasks.count
    }

    func execute(_ task: ClaimedTask, completer: Completer) async {
        if let dueAt = task.dueAt {
            EngineMetrics.scheduleToStart(activity: task.activity, seconds: engine.clock.now().timeIntervalSince(dueAt))
        }
        if task.isTimer {
            await completer.submit(.outcome(task, .completed(.null)))
            return
        }
        var taskLogger = logger
        for (key, value) in Engine.metadata(task, [:]) { taskLogger[metadataKey: key] = value }
        let context = ActivityContext(
            taskID: task.id, workflowID: task.workflowID, workflowType: task.workflowType, state: task.state, attempt: task.attempt,
            idempotencyKey: task.idempotencyKey, correlationID: task.correlationID, logger: taskLogger)
        switch registry.entry(task.activity) {
        case nil:
            await completer.submit(.outcome(task, .failed(.nonRetryable("activity.unknown", "no activity '\(task.activity)' is registered in this worker"))))
        case .transactional(let body):
            await completer.submit(.transactional(task, body, context))
        case .plain(let body):
            let started = ContinuousClock.now
            let outcome = await Self.run(body, input: task.input, context: context, timeout: task.timeout)
            EngineMetrics.attemptDuration(activity: task.activity, ContinuousClock.now - started)
            await completer.submit(.outcome(task, outcome))
        }
    }

    /// Runs one attempt under its start-to-close timeout.
    static func run(_ body: @escaping ActivityRegistry.Body, input: JSONValue, context: ActivityContext, timeout: Duration) async -> TaskOutcome {
        await withTaskGroup(of: TaskOutcome?.self) { group in
            group.addTask {
                do {
                    return .completed(try await body(input, context))
                } catch {
                    return .failed(ActivityError(error))
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return Task.isCancelled ? nil : .failed(ActivityError(code: "timeout", message: "the attempt did not finish within \(timeout.text)"))
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .failed(ActivityError(code: "timeout", message: "the attempt did not finish within \(timeout.text)"))
        }
    }

    /// Keeps a LISTEN connection open; reconnects with backoff when it drops.
    private func listen() async {
        var failures = 0
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(
                    configuration: database.connectionConfiguration(), id: 1, logger: logger)
                defer { Task { try? await connection.close() } }
                try await connection.listen(on: WorkflowStore.taskChannel) { notifications in
                    failures = 0
                    doorbell.ring()
                    for try await _ in notifications { doorbell.ring() }
                }
            } catch {
                if Task.isCancelled { return }
                failures += 1
                logger.debug("listen connection failed", metadata: [LogKey.error: "\(String(reflecting: error))"])
            }
            try? await Task.sleep(for: .milliseconds(min(200 * (1 << min(failures, 5)), 5000)))
        }
    }

    private func heartbeat() async {
        while !Task.isCancelled {
            do {
                try await engine.client.withConnection { connection in
                    try await engine.store.heartbeat(
                        workerID: configuration.id, host: ProcessInfo.processInfo.hostName, pid: Int(getpid()),
                        concurrency: configuration.concurrency, now: engine.clock.now(), on: connection)
                }
            } catch {
                logger.debug("heartbeat failed", metadata: [LogKey.error: "\(String(reflecting: error))"])
            }
            try? await Task.sleep(for: configuration.heartbeatInterval)
        }
    }
}
