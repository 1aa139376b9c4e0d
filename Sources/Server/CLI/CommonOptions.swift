import ArgumentParser
import Foundation
import Logging
import Orchestrator
import Synchronization

/// Settings every command that loads the workflow files shares; each flag falls back to its
/// environment variable.
struct CommonOptions: ParsableArguments {
    @OptionGroup var location: DatabaseOptions

    @Option(help: "Folder of workflow YAML files (env ORCHESTRATOR_WORKFLOWS_DIR; default ./workflows.d, else the running server's).")
    var workflowsDir: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error (env ORCHESTRATOR_LOG_LEVEL).")
    var logLevel: String?

    @Option(help: "Log format: text, or json for one object per line (env ORCHESTRATOR_LOG_FORMAT).")
    var logFormat: String?

    var environment: [String: String] { location.environment }

    func database() throws -> DatabaseConfiguration { try location.database() }

    /// The workflow files: the given folder; else `./workflows.d`; else (with `discovering`, for
    /// the commands other than `serve`) those of the running server.
    func workflowsFolder(discovering: Bool) -> String {
        if let explicit = workflowsDir ?? environment["ORCHESTRATOR_WORKFLOWS_DIR"] { return explicit }
        let local = "./workflows.d"
        if discovering, !FileManager.default.fileExists(atPath: local), let server = location.runningServer { return server.workflowsDir }
        return local
    }

    func makeLogger(label: String) throws -> Logger {
        let text = logLevel ?? environment["ORCHESTRATOR_LOG_LEVEL"] ?? "info"
        guard let level = Logger.Level(rawValue: text) else {
            throw ValidationError("unknown log level '\(text)'")
        }
        let formatText = logFormat ?? environment["ORCHESTRATOR_LOG_FORMAT"] ?? "text"
        guard let format = LogFormat(rawValue: formatText) else {
            throw ValidationError("unknown log format '\(formatText)': text or json")
        }
        LoggingBootstrap.once(level: level, format: format)
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}

/// Bootstraps swift-log once per process.
enum LoggingBootstrap {
    private static let done = Mutex(false)
    static func once(level: Logger.Level, format: LogFormat) {
        guard done.withLock({ done in defer { done = true }; return !done }) else { return }
        LoggingSystem.bootstrap { label in OrchestratorLogHandler(label: label, format: format, logLevel: level) }
    }
}
