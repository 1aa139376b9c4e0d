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
        let (runtime, definitions) = try EngineRuntime.make(options: options, engineOptions: engineOptions, logger: logger)
        try await runtime.run(definitions: definitions) { runtime in
            [Worker(
                engine: runtime.engine, registry: runtime.registry, database: runtime.database,
                configuration: .init(concurrency: workers), logger: logger)]
        }
    }
}
