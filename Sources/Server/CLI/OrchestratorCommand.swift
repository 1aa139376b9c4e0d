import ArgumentParser
import AsyncHTTPClient
import Activities
import Orchestrator
import Synchronization

/// The `orchestrator` command line. Its `main.swift` calls `OrchestratorCommand.main(activities:)`
/// with the built-ins; a program of your own adds its Swift activities there.
public struct OrchestratorCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "orchestrator",
        abstract: "Durable state-machine workflows on PostgreSQL.",
        subcommands: [
            ServeCommand.self, WorkerCommand.self, MigrateCommand.self, ValidateCommand.self, BenchCommand.self, WorkflowsCommand.self,
            DeadLettersCommand.self, LateCommand.self, LimitsCommand.self,
        ]
    )

    public init() {}

    /// Runs the command line with `activities` building the registry every command uses: the
    /// built-ins (`ActivityRegistry.builtins(_:)`) plus your own.
    @MainActor
    public static func main(activities: @escaping @Sendable (ActivityEnvironment) -> ActivityRegistry) async {
        WorkerExecutor.install(for: CommandLine.arguments)
        activityRegistry.withLock { $0 = activities }
        await main()
    }

    /// Builds the activity registry of this program (set by `main(activities:)`).
    static let activityRegistry = Mutex<@Sendable (ActivityEnvironment) -> ActivityRegistry>({ ActivityRegistry.builtins($0) })

    static func activities(_ environment: ActivityEnvironment) -> ActivityRegistry {
        activityRegistry.withLock { $0 }(environment)
    }
}
