import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization
import _ConnectionPoolModule

/// The process's connections to the database: PostgresNIO's pool, watched, and replaced by a new
/// one when it refuses every lease although the database answers.
///
/// Why: once connecting has failed for a while, PostgresNIO's pool retries ever more rarely (its
/// backoff grows by a quarter at each failure, up to a minute), and after a minute without a
/// connection it fails every lease at once (its circuit breaker) until one of those rare retries
/// succeeds. After an outage of a few minutes the database would be back for up to a minute
/// before this process used it again; meanwhile every request would fail. So `run()` leases a
/// `SELECT 1` every `interval` (see `isStuck`).
///
/// Use `client` for every lease: it is the current pool.
public final class DatabasePool: Service, Sendable {
    private struct Generation: Sendable {
        let client: PostgresClient
        /// Finishing it shuts the client's pool down.
        let retirement: AsyncStream<Void>.Continuation
        let retired: AsyncStream<Void>
    }

    private let database: DatabaseConfiguration
    private let clientConfiguration: PostgresClient.Configuration
    private let interval: Duration
    private let logger: Logger
    private let current: Mutex<Generation>

    /// A pool of at most `maximumConnections` to `database`.
    public convenience init(database: DatabaseConfiguration, maximumConnections: Int = 20, logger: Logger) {
        self.init(database: database, clientConfiguration: database.clientConfiguration(maximumConnections: maximumConnections), logger: logger)
    }

    /// A pool whose clients are made with `clientConfiguration`; `database` is where the watch's
    /// own connection goes.
    public init(
        database: DatabaseConfiguration, clientConfiguration: PostgresClient.Configuration,
        interval: Duration = .seconds(1), logger: Logger
    ) {
        self.database = database
        self.clientConfiguration = clientConfiguration
        self.interval = interval
        self.logger = logger
        current = Mutex(Self.generation(clientConfiguration, logger: logger))
    }

    /// The pool to lease from now.
    public var client: PostgresClient { current.withLock { $0.client } }

    /// Runs the pool, and its successors, until cancelled or graceful shutdown (as PostgresNIO's
    /// own `run()` does); watches it meanwhile.
    public func run() async {
        await run(whenRunning: {})
    }

    /// Runs the pool for as long as `body` runs, which starts once the pool's task runs: a lease
    /// before that works, but PostgresNIO warns about it.
    public func whileRunning<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            await withCheckedContinuation { (started: CheckedContinuation<Void, Never>) in
                group.addTask {
                    await self.run(whenRunning: { started.resume() })
                    return nil
                }
            }
            defer { group.cancelAll() }
            return try await body()
        }
    }

    /// `run()`; `whenRunning` is called once the first pool runs.
    private func run(whenRunning: @escaping @Sendable () -> Void) async {
        await cancelWhenGracefulShutdown { await self.runAndWatch(whenRunning: whenRunning) }
    }

    private func runAndWatch(whenRunning: @escaping @Sendable () -> Void) async {
        await withDiscardingTaskGroup { group in
            let first = current.withLock { $0 }
            await Self.start(first, in: &group)
            whenRunning()
            while (try? await Task.sleep(for: interval)) != nil {
                guard await isStuck() else { continue }
                let next = Self.generation(clientConfiguration, logger: logger)
                await Self.start(next, in: &group)
                let replaced = current.withLock { generation in
                    defer { generation = next }
                    return generation
                }
                replaced.retirement.finish()
                EngineMetrics.poolReplaced()
                logger.warning("database connection pool replaced: the database answers again, the pool did not")
            }
            group.cancelAll()
        }
    }

    /// Whether `error` says the database could not be reached (a connection refused or lost, a
    /// pool unable to connect) rather than that a statement failed.
    public static func isUnavailability(_ error: any Error) -> Bool {
        switch error {
        case let error as PSQLError: error.code != .server
        case is ConnectionPoolError: true
        default: false
        }
    }

    private static func generation(_ configuration: PostgresClient.Configuration, logger: Logger) -> Generation {
        let (retired, retirement) = AsyncStream<Void>.makeStream()
        return Generation(client: PostgresClient(configuration: configuration, backgroundLogger: logger), retirement: retirement, retired: retired)
    }

    /// Runs a generation's pool until it is retired or the group is cancelled; returns once the
    /// pool's task runs, so that no lease comes before it (PostgresNIO warns of that).
    private static func start(_ generation: Generation, in group: inout DiscardingTaskGroup) async {
        await withCheckedContinuation { (started: CheckedContinuation<Void, Never>) in
            group.addTask {
                await withTaskGroup(of: Void.self) { race in
                    race.addTask {
                        started.resume()
                        await generation.client.run()
                    }
                    race.addTask { for await _ in generation.retired {} }
                    await race.next()
                    race.cancelAll()
                }
            }
        }
    }

    /// Whether the pool must be replaced: it refuses the check's lease at once because its circuit
    /// breaker is open, while the database answers a connection of the check's own. The breaker
    /// opens only when the pool has had no connection for a minute, so replacing it cuts nothing
    /// in flight. A pool that is only slow (busy, or between its own reconnection attempts after a
    /// shorter outage) holds the check's lease until it serves, and is kept.
    private func isStuck() async -> Bool {
        do {
            _ = try await client.query("SELECT 1", logger: logger).collect()
            return false
        } catch let error as ConnectionPoolError where error == .connectionCreationCircuitBreakerTripped {
            return await databaseAnswers()
        } catch {
            return false
        }
    }

    /// Whether the database answers a query on a new connection of its own.
    private func databaseAnswers() async -> Bool {
        let configuration = database.connectionConfiguration(connectTimeout: .seconds(2))
        guard let connection = try? await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger) else { return false }
        let answered = (try? await connection.query("SELECT 1", logger: logger).collect()) != nil
        try? await connection.close()
        return answered
    }
}
