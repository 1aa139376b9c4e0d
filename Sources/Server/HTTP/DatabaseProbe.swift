import Foundation
import Logging
import Orchestrator
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Checks the database every second on a connection of its own, so readiness answers at once and
/// requests fail fast with 503 while the database is away (the pool would make them wait).
final class DatabaseProbe: Service {
    struct Status: Sendable {
        var reachable = false
        var schemaVersion = 0
        /// When the check under way began; `nil` between checks.
        var checkingSince: ContinuousClock.Instant?

        /// Reachable at the last check, and no check since has gone unanswered for `patience`.
        /// Only an unanswered check counts against the database: on a loaded machine the probe's
        /// own turn between checks can come late, and that says nothing about the database.
        func isReachable(at now: ContinuousClock.Instant, patience: Duration) -> Bool {
            guard reachable else { return false }
            guard let checkingSince else { return true }
            return now - checkingSince < patience
        }
    }

    private let database: DatabaseConfiguration
    private let logger: Logger
    private let interval: Duration
    private let state = Mutex(Status())

    init(database: DatabaseConfiguration, logger: Logger, interval: Duration = .seconds(1)) {
        self.database = database
        self.logger = logger
        self.interval = interval
    }

    var status: Status { state.withLock { $0 } }

    var isReachable: Bool { status.isReachable(at: .now, patience: interval * 5) }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var connection: PostgresConnection?
            while !Task.isCancelled {
                self.state.withLock { $0.checkingSince = .now }
                do {
                    if connection == nil || connection?.isClosed == true {
                        let configuration = self.database.connectionConfiguration(connectTimeout: .seconds(2))
                        connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: self.logger)
                    }
                    let version = try await self.schemaVersion(on: connection!)
                    self.state.withLock { $0 = Status(reachable: true, schemaVersion: version) }
                } catch {
                    if self.status.reachable {
                        self.logger.warning("database unreachable", metadata: [LogKey.error: "\(String(reflecting: error))"])
                    }
                    try? await connection?.close()
                    connection = nil
                    self.state.withLock { $0 = Status(reachable: false, schemaVersion: $0.schemaVersion) }
                }
                try? await Task.sleep(for: self.interval)
            }
            try? await connection?.close()
        }
    }

    private func schemaVersion(on connection: PostgresConnection) async throws -> Int {
        let rows = try await connection.query(
            "SELECT coalesce((SELECT max(version) FROM orchestrator.schema_migrations), 0)::int8", logger: logger)
        for try await version in rows.decode(Int64.self) { return Int(version) }
        return 0
    }
}
