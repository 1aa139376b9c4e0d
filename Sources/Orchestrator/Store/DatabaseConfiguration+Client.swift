import Logging
import PostgresNIO

extension DatabaseConfiguration {
    /// Runs `body` with a client of this database whose connection pool runs for as long as the
    /// body does (what a command-line command needs; a server runs its pool as a service).
    public func withClient<T: Sendable>(
        maximumConnections: Int = 2, logger: Logger, _ body: @escaping @Sendable (PostgresClient) async throws -> T
    ) async throws -> T {
        let client = PostgresClient(configuration: clientConfiguration(maximumConnections: maximumConnections), backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            // The body starts once the pool's task runs: a lease before `run()` works, but
            // PostgresNIO warns about it on the user's terminal.
            await withCheckedContinuation { (started: CheckedContinuation<Void, Never>) in
                group.addTask {
                    started.resume()
                    await client.run()
                    return nil
                }
            }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }
}
