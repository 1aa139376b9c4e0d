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
        var checkedAt = ContinuousClock.now
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

    /// Reachable at the last check, and that check is recent.
    var isReachable: Bool {
        let status = self.status
        return status.reachable && ContinuousClock.now - status.checkedAt < interval * 5
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var connection: PostgresConnection?
            while !Task.isCancelled {
                do {
                    if connection == nil || connection?.isClosed == true {
                        let configuration = self.database.connectionConfiguration(connectTimeout: .seconds(2))
                        connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: self.logger)
                    }
                    let version = try await self.schemaVersion(on: connection!)
                    self.state.withLock { $0 = Status(reachable: true, schemaVersion: version, checkedAt: .now) }
                } catch {
                    if self.isReachable {
                        self.logger.warning("database unreachable", metadata: [LogKey.error: "\(String(reflecting: error))"])
                    }
                    try? await connection?.close()
                    connection = nil
                    self.state.withLock { $0 = Status(reachable: false, schemaVersion: $0.schemaVersion, checkedAt: .now) }
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
