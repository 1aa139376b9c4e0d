import ArgumentParser
import Orchestrator
import PostgresNIO

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Apply pending database migrations.")

    @OptionGroup var options: CommonOptions

    func run() async throws {
        let logger = try options.makeLogger(label: "orchestrator.migrate")
        let client = PostgresClient(configuration: try options.database().clientConfiguration(maximumConnections: 2), backgroundLogger: logger)
        let applied = try await withThrowingTaskGroup(of: [String].self) { group in
            group.addTask { await client.run(); return [] }
            defer { group.cancelAll() }
            return try await Migrator().migrate(client: client, logger: logger)
        }
        print(applied.isEmpty ? "database is up to date" : "applied: \(applied.joined(separator: ", "))")
    }
}
