import Logging

extension DatabaseConfiguration {
    /// Runs `body` with a pool of this database that runs for as long as the body does (what a
    /// command-line command needs; a server runs its pool as a service).
    public func withPool<T: Sendable>(
        maximumConnections: Int = 2, logger: Logger, _ body: (DatabasePool) async throws -> T
    ) async throws -> T {
        let pool = DatabasePool(database: self, maximumConnections: maximumConnections, logger: logger)
        return try await pool.whileRunning { try await body(pool) }
    }
}
