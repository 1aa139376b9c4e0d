import ArgumentParser
import Foundation
import Logging
import Orchestrator
import Synchronization

/// Settings every command shares; each flag falls back to its environment variable.
struct CommonOptions: ParsableArguments {
    @Option(help: "PostgreSQL URL (env DATABASE_URL), e.g. postgres://user:pass@127.0.0.1:5432/orchestrator")
    var databaseURL: String?

    @Option(help: "Folder of workflow YAML files (env ORCHESTRATOR_WORKFLOWS_DIR).")
    var workflowsDir: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error (env ORCHESTRATOR_LOG_LEVEL).")
    var logLevel: String?

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    var resolvedWorkflowsDir: String {
        workflowsDir ?? environment["ORCHESTRATOR_WORKFLOWS_DIR"] ?? "./workflows.d"
    }

    func database() throws -> DatabaseConfiguration {
        guard let url = databaseURL ?? environment["DATABASE_URL"] else {
            throw ValidationError("no database: set DATABASE_URL or pass --database-url")
        }
        return try DatabaseConfiguration(url: url)
    }

    func makeLogger(label: String) throws -> Logger {
        let text = logLevel ?? environment["ORCHESTRATOR_LOG_LEVEL"] ?? "info"
        guard let level = Logger.Level(rawValue: text) else {
            throw ValidationError("unknown log level '\(text)'")
        }
        LoggingBootstrap.once(level: level)
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}

/// Bootstraps swift-log once per process.
enum LoggingBootstrap {
    private static let done = Mutex(false)
    static func once(level: Logger.Level) {
        guard done.withLock({ done in defer { done = true }; return !done }) else { return }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
