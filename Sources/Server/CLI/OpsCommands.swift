import ArgumentParser
import Foundation
import Logging
import Orchestrator
import PostgresNIO

/// Options of the ops commands: where the database is, and how to print.
struct OpsOptions: ParsableArguments {
    @OptionGroup var location: DatabaseOptions

    @Flag(help: "Print JSON (the HTTP API's shapes) instead of a table.")
    var json = false

    /// Runs `body` with an engine on the configured database, or on the running server's embedded one.
    func withEngine<T: Sendable>(_ body: @escaping @Sendable (Engine) async throws -> T) async throws -> T {
        var logger = Logger(label: "orchestrator.ops")
        logger.logLevel = .error
        let database = try location.database()
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

    /// A list as JSON, a table, or `empty` (a sentence saying so) when there is nothing to list.
    func emit(list value: JSONValue, header: [String], rows: [[String]], empty: String) {
        print(json ? value.jsonText : rows.isEmpty ? empty : table(header, rows))
    }

    /// Who resolves a dead letter from the command line.
    var actor: String { "cli:\(location.environment["USER"] ?? "unknown")" }
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

/// "signal delivery_confirmed until 2026-…", "timer until …", "child", or "-".
func waitingFor(_ record: WorkflowRecord) -> String {
    guard let wait = record.waiting else { return "-" }
    let what = wait.kind == .signal ? "signal \(wait.signals.joined(separator: " or "))" : wait.kind.rawValue
    return what + (wait.until.map { " until \(short($0))" } ?? "")
}

/// The values an enum option accepts, listed by ArgumentParser when a value is wrong.
extension WorkflowStatus: ExpressibleByArgument {}
extension DeadLetterRecord.Status: ExpressibleByArgument {}

func short(_ date: Date?) -> String {
    date.map { Representation.timestamp.format($0) } ?? "-"
}

struct WorkflowsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workflows", abstract: "Inspect workflows.", subcommands: [List.self, Show.self, History.self])

    struct List: AsyncParsableCommand {
        @OptionGroup var options: OpsOptions
        @Option(help: "Only this type.") var type: String?
        @Option(help: "Only this status.") var status: WorkflowStatus?
        @Option(help: "How many, newest first.") var limit = 50

        func run() async throws {
            let (type, status, limit) = (type, status, limit)
            let records = try await options.withEngine { try await $0.workflows(type: type, status: status, limit: limit).records }
            options.emit(
                list: .array(records.map(Representation.workflow)), header: ["ID", "TYPE", "STATUS", "STATE", "WAITING FOR", "CREATED", "UPDATED"],
                rows: records.map { [$0.id, $0.type, $0.status.rawValue, $0.state ?? "-", waitingFor($0), short($0.createdAt), short($0.updatedAt)] },
                empty: "no workflows" + (type.map { " of type \($0)" } ?? "") + (status.map { " with status \($0.rawValue)" } ?? ""))
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
                ["state", record.state ?? "-"], ["waiting for", waitingFor(record)], ["error", record.error.map { "\($0.code): \($0.message)" } ?? "-"],
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
            options.emit(
                list: .array(events.map(Representation.event)), header: ["SEQ", "AT", "TYPE", "STATE", "ATTEMPT", "DATA"],
                rows: events.map { ["\($0.seq)", short($0.at), $0.type.rawValue, $0.state ?? "-", $0.attempt.map(String.init) ?? "-", String(($0.data?.jsonText ?? "").prefix(80))] },
                empty: "no events")
        }
    }
}

struct DeadLettersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead-letters", abstract: "Inspect and resolve dead letters.", subcommands: [List.self, Show.self, Retry.self, Discard.self])

    struct List: AsyncParsableCommand {
        @OptionGroup var options: OpsOptions
        @Option(help: "Only this status.") var status: DeadLetterRecord.Status = .open
        @Option(help: "Only dead letters of workflows of this type.") var workflowType: String?
        @Option(help: "Only this activity's.") var activity: String?
        @Option(help: "Only those whose last error has this code.") var errorCode: String?
        @Option(help: "How many, newest first.") var limit = 50

        func run() async throws {
            let filter = DeadLetterFilter(workflowType: workflowType, activity: activity, errorCode: errorCode, status: status)
            let limit = limit
            let letters = try await options.withEngine { try await $0.deadLetters(filter, limit: limit) }
            options.emit(
                list: .array(letters.map(Representation.deadLetter)),
                header: ["ID", "WORKFLOW", "TYPE", "STATE", "ACTIVITY", "ERROR", "ATTEMPTS", "STATUS", "CREATED"],
                rows: letters.map { ["\($0.id)", $0.workflowID, $0.workflowType, $0.state, $0.activity, $0.errorCode, "\($0.attempts.count)", $0.status.rawValue, short($0.createdAt)] },
                empty: "no \(status.rawValue) dead letters" + ([workflowType, activity, errorCode].allSatisfy { $0 == nil } ? "" : " match"))
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
    @Option(help: "A ready task not started within this is late, e.g. 60s (env ORCHESTRATOR_LATE_AFTER; a workflow file's late_after wins).")
    var lateAfter: String?

    func run() async throws {
        let lateAfter = try EngineOptions.duration(
            lateAfter ?? options.location.environment["ORCHESTRATOR_LATE_AFTER"], named: "late-after", default: .seconds(60))
        let dashboard = try await options.withEngine { try await $0.dashboard(lateAfter: lateAfter) }
        options.emit(
            list: Representation.dashboard(dashboard)["late_tasks"] ?? [], header: ["TASK", "WORKFLOW", "TYPE", "STATE", "ACTIVITY", "REASON", "LATE BY"],
            rows: dashboard.lateTasks.map { ["\($0.taskID)", $0.workflowID, $0.workflowType, $0.state, $0.activity, $0.reason.rawValue, String(format: "%.1fs", $0.lateBySeconds)] },
            empty: "no late tasks")
    }
}
