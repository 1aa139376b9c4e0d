import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The engine's clock in production: the database server's time, so leases, retries and timers
/// mean the same on every host, however skewed its own clock. It measures the offset between the
/// host's clock and PostgreSQL's `clock_timestamp()` (halving the quickest of a few round trips)
/// at start and every `interval` while it runs as a service; between measurements it follows the
/// host's clock.
public final class DatabaseClock: WallClock, Service {
    private let pool: DatabasePool
    private let host: any WallClock
    private let interval: Duration
    private let logger: Logger
    /// `nil` until the first measurement.
    private let offset = Mutex<TimeInterval?>(nil)

    public init(pool: DatabasePool, host: any WallClock = SystemWallClock(), interval: Duration = .seconds(10), logger: Logger) {
        self.pool = pool
        self.host = host
        self.interval = interval
        self.logger = logger
    }

    /// Readings per measurement.
    static let readings = 5

    public func now() -> Date { host.now().addingTimeInterval(offset.withLock { $0 } ?? 0) }

    /// Measures the offset now: of a few readings, the one with the shortest round trip, whose
    /// midpoint is off by at most half of it (a reply delayed on a busy host skews the others).
    /// The database read its time within that round trip, so the offset lies within half of it
    /// from the midpoint: the offset moves only as far as that proves, and a measurement whose
    /// every reply was delayed (a stalled host) leaves an offset it cannot disprove where it was.
    public func synchronize() async throws {
        let readings = try await pool.client.withConnection { connection in
            var readings: [(roundTrip: TimeInterval, offset: TimeInterval)] = []
            for _ in 0..<Self.readings {
                let sent = host.now()
                let rows = try await connection.query("SELECT clock_timestamp()", logger: logger)
                for try await databaseTime in rows.decode(Date.self) {
                    let roundTrip = host.now().timeIntervalSince(sent)
                    readings.append((roundTrip, databaseTime.timeIntervalSince(sent.addingTimeInterval(roundTrip / 2))))
                }
            }
            return readings
        }
        guard let quickest = readings.min(by: { $0.roundTrip < $1.roundTrip }) else {
            throw OrchestratorError(.database, "the database did not report its time")
        }
        let uncertainty = quickest.roundTrip / 2
        let (previous, updated) = offset.withLock { value -> (TimeInterval, TimeInterval) in
            let previous = value
            let updated = previous.map { min(max($0, quickest.offset - uncertainty), quickest.offset + uncertainty) } ?? quickest.offset
            value = updated
            return (previous ?? 0, updated)
        }
        if abs(updated - previous) > 1 {
            logger.notice("host clock differs from the database's; following the database", metadata: ["offset_seconds": "\(updated)"])
        }
    }

    /// Measures the offset every `interval` until graceful shutdown.
    public func run() async throws {
        await repeatUntilGracefulShutdown(every: interval, name: "clock synchronization", logger: logger, failureLevel: .debug) {
            try await self.synchronize()
        }
    }
}
