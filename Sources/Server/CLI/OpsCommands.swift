import ArgumentParser
import Foundation
import Logging
import Orchestrator
import PostgresNIO

/// Options of the ops commands: where the database is, and how to print.
struct OpsOptions: ParsableArguments {
    @OptionGroup var common: CommonOptions

    @Flag(help: "Print JSON (the HTTP API's shapes) instead of a table.")
    var json = false

    /// Runs `body` with an engine on the configured database, or on the running embedded cluster.
    func withEngine<T: Sendable>(_ body: @escaping @Sendable (Engine) async throws -> T) async throws -> T {
        var logger = Logger(label: "orchestrator.ops")
        logger.logLevel = .error
        let database: DatabaseConfiguration
        if common.databaseURL != nil || common.environment["DATABASE_URL"] != nil {
            database = try common.database()
        } else {
            let folder = URL(fileURLWithPath: common.environment["ORCHESTRATOR_DATA_DIR"] ?? "./data")
            guard let running = EmbeddedPostgres(folder: folder, logger: logger).runningConfiguration() else {
                throw ExitMessage("no database: set DATABASE_URL, or start the server (scripts/run.sh) so its embedded database runs")
            }
            database = running
        }
        let client = PostgresClient(configuration: database.clientConfiguration(maximumConnections: 2), backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                await client.run()
                return nil
            }
            defer { group.cancelAll() }
            let clock = DatabaseClock(client: client, logger: logger)
            try await clock.synchronize()
            return try await body(Engine(client: client, clock: clock, logger: logger))
        }
    }

    func emit(_ value: JSONValue, table: @autoclosure () -> String) {
        print(json ? value.jsonText : table())
    }

    /// Who resolves a dead letter from the command line.
    var actor: String { "cli:\(common.environment["USER"] ?? "unknown")" }
}

/// Left-aligned columns.
func table(_ header: [String], _ rows: [[String]]) -> String {
    let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
    func line(_ cells: [String]) -> String {
        zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
            .trimmingCharacters(in: .whitespaces)
    }
    return ([line(header)] + rows.map(line)).joined(separator: "\n")
}

func short(_ date: Date?) -> String {
    date.map { Representation.timestamp.format($0) } ?? "-"
}

struct WorkflowsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workflows", abstract: "Inspect workflows.", subcommands: [List.self, Show.self, History.self])

    struct List: AsyncParsableCommand {
        @OptionGroup var options: OpsOptions
        @Option(help: "Only this type.") var type: String?
        @Option(help: "Only this status.") var status: String?
        @Option(help: "How many, newest first.") var limit = 50

        func run() async throws {
            let status = try status.map { text in
                guard let status = WorkflowStatus(rawValue: text) else { throw ValidationError("unknown status '\(text)'") }
                return status
            }
            let (type, limit) = (type, limit)
            let records = try await options.withEngine { try await $0.workflows(type: type, status: status, limit: limit).records }
            options.emit(.array(records.map(Representation.workflow)), table: table(
                ["ID", "TYPE", "STATUS", "STATE", "CREATED", "UPDATED"],
                records.map { [$0.id, $0.type, $0.status.rawValue, $0.state ?? "-", short($0.createdAt), short($0.updatedAt)] }))
        }
    }

    struct Show: AsyncParsableCommand {
        @OptionGroup var options: OpsOptions
        @Argument var id: String

        func run() async throws {
            let id = id
            let record = try await options.withEngine { try await $0.workflow(id) }
            let value = Representation.workflow(record)
            options.emit(value, table: table(["FIELD", "VALUE"], [
                ["id", record.id], ["type", "\(record.type) @ \(record.version)"], ["status", record.status.rawValue],
                ["state", record.state ?? "-"], ["error", record.error.map { "\($0.code): \($0.message)" } ?? "-"],
                ["created", short(record.createdAt)], ["updated", short(record.updatedAt)], ["completed", short(record.completedAt)],
                ["input", record.input.jsonText], ["output", record.output?.jsonText ?? "-"],
            ]))
        }
    }

    struct History: AsyncParsableCommand {
        @OptionGroup var options: OpsOptions
        @Argument var id: String

        func run() async throws {
            let id = id
            let events = try await options.withEngine { engine in
                _ = try await engine.workflow(id)
                return try await engine.history(id)
            }
            options.emit(.array(events.map(Representation.event)), table: table(
                ["SEQ", "AT", "TYPE", "STATE", "ATTEMPT", "DATA"],
                events.map { ["\($0.seq)", short($0.at), $0.type.rawValue, $0.state ?? "-", $0.attempt.map(String.init) ?? "-", String(($0.data?.jsonText ?? "").prefix(80))] }))
        }
    }
}

struct DeadLettersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead-letters", abstract: "Inspect and resolve dead letters.", subcommands: [List.self, Show.self, Retry.self, Discard.self])

    struct List: AsyncParsableCommand {
        @OptionGroup var options: OpsOptions
        @Option(help: "open, retried or discarded.") var status = "open"
        @Option var workflowType: String?
        @Option var activity: String?
        @Option var errorCode: String?
        @Option var limit = 50

        func run() async throws {
            guard let status = DeadLetterRecord.Status(rawValue: status) else { throw ValidationError("status must be open, retried or discarded") }
            let filter = DeadLetterFilter(workflowType: workflowType, activity: activity, errorCode: errorCode, status: status)
            let limit = limit
            let letters = try await options.withEngine { try await $0.deadLetters(filter, limit: limit) }
            options.emit(.array(letters.map(Representation.deadLetter)), table: table(
                ["ID", "WORKFLOW", "TYPE", "STATE", "ACTIVITY", "ERROR", "ATTEMPTS", "STATUS", "CREATED"],
                letters.map { ["\($0.id)", $0.workflowID, $0.workflowType, $0.state, $0.activity, $0.errorCode, "\($0.attempts.count)", $0.status.rawValue, short($0.createdAt)] }))
        }
    }

    struct Show: AsyncParsableCommand {
        @OptionGroup var options: OpsOptions
        @Argument var id: Int64

        func run() async throws {
            let id = id
            let letter = try await options.withEngine { try await $0.deadLetter(id) }
            options.emit(Representation.deadLetter(letter), table: DeadLettersCommand.describe(letter))
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the task again; the workflow resumes.")
        @OptionGroup var options: OpsOptions
        @Argument var id: Int64

        func run() async throws {
            try await DeadLettersCommand.resolve(id, verb: "retried", options: options) { try await $0.retryDeadLetter($1, by: $2) }
        }
    }

    struct Discard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give up on the task; the workflow fails or compensates.")
        @OptionGroup var options: OpsOptions
        @Argument var id: Int64

        func run() async throws {
            try await DeadLettersCommand.resolve(id, verb: "discarded", options: options) { try await $0.discardDeadLetter($1, by: $2) }
        }
    }

    /// Resolves a dead letter once, as the command-line user, and prints the result.
    static func resolve(
        _ id: Int64, verb: String, options: OpsOptions,
        _ action: @escaping @Sendable (Engine, Int64, String) async throws -> DeadLetterRecord
    ) async throws {
        let actor = options.actor
        let letter = try await options.withEngine { try await action($0, id, actor) }
        options.emit(Representation.deadLetter(letter), table: "dead letter \(id) \(verb) by \(actor)")
    }

    static func describe(_ letter: DeadLetterRecord) -> String {
        table(["FIELD", "VALUE"], [
            ["id", "\(letter.id)"], ["workflow", "\(letter.workflowID) (\(letter.workflowType))"], ["state", letter.state],
            ["activity", letter.activity], ["status", letter.status.rawValue], ["resolved", letter.resolvedBy.map { "\($0) at \(short(letter.resolvedAt))" } ?? "-"],
        ]) + "\n\n" + table(["ATTEMPT", "AT", "CODE", "MESSAGE"], letter.attempts.map { ["\($0.attempt)", short($0.at), $0.code, $0.message] })
    }
}

struct LateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "late", abstract: "Late tasks: not started in time, running too long, or lease expired.")
    @OptionGroup var options: OpsOptions
    @OptionGroup var engineOptions: EngineOptions

    func run() async throws {
        let lateAfter = try engineOptions.parsedLateAfter()
        let dashboard = try await options.withEngine { try await $0.dashboard(lateAfter: lateAfter) }
        options.emit(Representation.dashboard(dashboard)["late_tasks"] ?? [], table: table(
            ["TASK", "WORKFLOW", "TYPE", "STATE", "ACTIVITY", "REASON", "LATE BY"],
            dashboard.lateTasks.map { ["\($0.taskID)", $0.workflowID, $0.workflowType, $0.state, $0.activity, $0.reason.rawValue, String(format: "%.1fs", $0.lateBySeconds)] }))
    }
}
