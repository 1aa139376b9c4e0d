import ArgumentParser
import Orchestrator

/// Activity limits, as stored in the database and enforced by every worker.
struct LimitsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "limits", abstract: "List, set or remove per-activity concurrency limits (shared by all workers).",
        subcommands: [List.self, Set.self, Remove.self])

    struct List: AsyncParsableCommand {
        @OptionGroup var options: OpsOptions

        func run() async throws {
            let limits = try await options.withEngine { try await $0.operations.activityLimits() }
            options.emit(
                .array(limits.map { ["pattern": .string($0.pattern.pattern), "max_running": .number(Double($0.maxRunning))] }),
                table: table(["PATTERN", "MAX RUNNING"], limits.map { [$0.pattern.pattern, "\($0.maxRunning)"] }))
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set or change a limit; queued and running tasks count against it at once.")
        @OptionGroup var options: OpsOptions
        @Argument(help: "An activity (`http`), a prefix (`payments.*`) or `*`.") var pattern: String
        @Argument(help: "At most this many tasks of matching activities run at once.") var maxRunning: Int

        func run() async throws {
            guard maxRunning > 0 else { throw ValidationError("max-running must be at least 1") }
            let limit = ActivityLimit(pattern: pattern, maxRunning: maxRunning)
            try await options.withEngine { try await $0.operations.setActivityLimits([limit]) }
            print("\(pattern): at most \(maxRunning) running")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a limit; its waiting tasks run without it at once.")
        @OptionGroup var options: OpsOptions
        @Argument(help: "The limit's pattern.") var pattern: String

        func run() async throws {
            let pattern = pattern
            guard try await options.withEngine({ try await $0.operations.removeActivityLimit(pattern: pattern) }) else {
                throw ExitMessage("no limit '\(pattern)'")
            }
            print("\(pattern): no limit")
        }
    }
}
