import Logging

extension DatabaseConfiguration {
    /// Runs `body` with a pool of this database that runs for as long as the body does (what a
    /// command-line command needs; a server runs its pool as a service).
    public func withPool<T: Sendable>(
        maximumConnections: Int = 2, logger: Logger, _ body: (DatabasePool) async throws -> T
    ) async throws -> T {
        let pool = DatabasePool(database: self, maximumConnections: maximumConnections, logger: logger)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            // The body starts once the pool's task runs: a lease before `run()` works, but
            // PostgresNIO warns about it on the user's terminal.
            await withCheckedContinuation { (started: CheckedContinuation<Void, Never>) in
                group.addTask {
                    await pool.run(whenRunning: { started.resume() })
                    return nil
                }
            }
            defer { group.cancelAll() }
            return try await body(pool)
        }
    }
}
