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
            group.addTask {
                await client.run()
                return nil
            }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }
}
