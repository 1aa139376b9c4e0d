import ArgumentParser
import Orchestrator
import PostgresNIO

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Apply pending database migrations.")

    @OptionGroup var options: CommonOptions

    func run() async throws {
        let logger = try options.makeLogger(label: "orchestrator.migrate")
        let applied = try await options.database().withPool(logger: logger) { pool in
            var applied: [String] = []
            for migrator in try Migrator.all() { applied += try await migrator.migrate(client: pool.client, logger: logger) }
            return applied
        }
        print(applied.isEmpty ? "database is up to date" : "applied: \(applied.joined(separator: ", "))")
    }
}
