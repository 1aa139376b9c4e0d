import ArgumentParser
import Orchestrator

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the workers, the scheduler and the rescuer (the HTTP API joins here).")

    @OptionGroup var options: CommonOptions
    @OptionGroup var engineOptions: EngineOptions

    func run() async throws {
        let logger = try options.makeLogger(label: "orchestrator")
        let workers = try engineOptions.workerCount()
        let (runtime, definitions) = try EngineRuntime.make(options: options, engineOptions: engineOptions, logger: logger)
        try await runtime.run(definitions: definitions) { runtime in
            var services: [any Service] = [Scheduler(engine: runtime.engine), Rescuer(engine: runtime.engine)]
            if workers > 0 {
                services.append(Worker(
                    engine: runtime.engine, registry: runtime.registry, database: runtime.database,
                    configuration: .init(concurrency: workers), logger: logger))
            }
            return services
        }
    }
}

import ServiceLifecycle
