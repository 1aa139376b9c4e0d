import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization
import _ConnectionPoolModule

/// The process's connections to the database: PostgresNIO's pool, watched, and replaced by a new
/// one when it stays unable to serve after the database came back.
///
/// Why: once connecting has failed for a while, PostgresNIO's pool retries ever more rarely (its
/// backoff grows by a quarter at each failure, up to a minute), and after a minute without a
/// connection it fails every lease at once (its circuit breaker) until one of those rare retries
/// succeeds. After an outage of a few minutes the database would be back for up to a minute
/// before this process used it again; meanwhile every request would fail. So `run()` checks the
/// pool every `interval` with a query, and when it does not serve within `patience`, asks the
/// database on a connection of its own; `PoolWatch` decides from that. A replaced pool is shut
/// down: its breaker opens only when it has no connection at all.
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
    private let patience: Duration
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
        interval: Duration = .seconds(1), patience: Duration = .seconds(2), logger: Logger
    ) {
        self.database = database
        self.clientConfiguration = clientConfiguration
        self.interval = interval
        self.patience = patience
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

    /// The same; `whenRunning` is called once the first pool runs, so that no lease comes
    /// before it (PostgresNIO warns of that).
    func run(whenRunning: @escaping @Sendable () -> Void) async {
        await cancelWhenGracefulShutdown { await self.runAndWatch(whenRunning: whenRunning) }
    }

    private func runAndWatch(whenRunning: @escaping @Sendable () -> Void) async {
        await withDiscardingTaskGroup { group in
            let first = current.withLock { $0 }
            await Self.start(first, in: &group)
            whenRunning()
            while (try? await Task.sleep(for: interval)) != nil {
                guard PoolWatch.decide(after: await observe()) == .replace else { continue }
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

    /// One check: the pool serves a query within `patience`, or what the database says on a
    /// connection of the check's own.
    private func observe() async -> PoolWatch.Observation {
        let client = self.client
        let logger = self.logger
        let query = Task { () -> (any Error)? in
            do {
                _ = try await client.query("SELECT 1", logger: logger).collect()
                return nil
            } catch {
                return error
            }
        }
        let outcome = await Deadline.value(of: query, within: patience)
        query.cancel()
        if case .some(.none) = outcome { return .served }
        let circuitOpen = (outcome ?? nil).map { ($0 as? ConnectionPoolError) == .connectionCreationCircuitBreakerTripped } ?? false
        return .notServed(databaseAnswers: await databaseAnswers(), circuitOpen: circuitOpen)
    }

    /// Whether the database answers a query on a new connection of its own.
    private func databaseAnswers() async -> Bool {
        var configuration = database.connectionConfiguration()
        configuration.options.connectTimeout = TimeAmount(patience)
        guard let connection = try? await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger) else { return false }
        let answered = (try? await connection.query("SELECT 1", logger: logger).collect()) != nil
        try? await connection.close()
        return answered
    }
}
