import ArgumentParser

@main
struct OrchestratorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orchestrator",
        abstract: "Durable state-machine workflows on PostgreSQL.",
        subcommands: [ServeCommand.self, WorkerCommand.self, MigrateCommand.self, ValidateCommand.self, BenchCommand.self, WorkflowsCommand.self, DeadLettersCommand.self, LateCommand.self]
    )
}
