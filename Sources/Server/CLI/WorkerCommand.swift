import ArgumentParser
import Orchestrator
import ServiceLifecycle

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "Run workers only; start as many as you like against one database.")

    @OptionGroup var options: CommonOptions
    @OptionGroup var engineOptions: EngineOptions

    func run() async throws {
        let logger = try options.makeLogger(label: "orchestrator.worker")
        let workers = try engineOptions.workerCount()
        guard workers > 0 else { throw ValidationError("a worker process needs --workers of at least 1") }
        let database = try options.database()
        let runtime = try EngineRuntime.make(
            loaded: try EngineRuntime.loadDefinitions(options: options, discovering: true), engineOptions: engineOptions, database: database, logger: logger)
        try await runtime.run([runtime.worker(concurrency: workers)])
    }
}
