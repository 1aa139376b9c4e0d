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
        try await withEngine { engine, _ in try await body(engine) }
    }

    /// The same, with the database's configuration (for a connection of its own, such as `LISTEN`).
    func withEngine<T: Sendable>(_ body: @escaping @Sendable (Engine, DatabaseConfiguration) async throws -> T) async throws -> T {
        let logger = {
            var logger = Logger(label: "orchestrator.ops")
            logger.logLevel = .error
            return logger
        }()
        let database = try location.database()
        return try await database.withPool(logger: logger) { pool in
            let clock = DatabaseClock(pool: pool, logger: logger)
            try await clock.synchronize()
            return try await body(Engine(pool: pool, clock: clock, logger: logger), database)
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
        @Option(help: "Only those started at or after this time: RFC 3339, or how long ago (1h).") var createdAfter: PointInTime?
        @Option(help: "Only those started before this time: RFC 3339, or how long ago (1h).") var createdBefore: PointInTime?
        @Option(help: "How many, newest first.") var limit = 50

        func run() async throws {
            let (type, status, limit) = (type, status, limit)
            let filter = WorkflowFilter(type: type, status: status, createdAfter: createdAfter?.date, createdBefore: createdBefore?.date)
            let records = try await options.withEngine { try await $0.reads.workflows(filter, limit: limit).records }
            options.emit(
                list: .array(records.map(Representation.workflow)), header: ["ID", "TYPE", "STATUS", "STATE", "WAITING FOR", "CREATED", "UPDATED"],
                rows: records.map { [$0.id, $0.type, $0.status.rawValue, $0.state ?? "-", waitingFor($0), short($0.createdAt), short($0.updatedAt)] },
                empty: "no workflows" + (type.map { " of type \($0)" } ?? "") + (status.map { " with status \($0.rawValue)" } ?? "")
                    + (filter.createdAfter == nil && filter.createdBefore == nil ? "" : " started in that time"))
        }
    }

    struct Show: AsyncParsableCommand {
        @OptionGroup var options: OpsOptions
        @Argument var id: String
        @Option(help: "Wait up to this long (e.g. 30s, at most 1h) until the workflow ends, is dead-lettered or waits for a signal.")
        var wait: String?

        func run() async throws {
            let id = id
            let wait = try wait.map { try EngineOptions.duration($0, named: "wait", default: .zero) }
            if let wait, wait > .seconds(3600) { throw ValidationError("wait must be at most 1h") }
            let record = try await options.withEngine { engine, database in
                guard let wait else { return try await engine.reads.workflow(id) }
                let watcher = WorkflowWatcher(engine: engine, database: database, logger: engine.logger)
                return try await withThrowingTaskGroup(of: WorkflowRecord?.self) { group in
                    group.addTask {
                        try await watcher.run()
                        return nil
                    }
                    defer { group.cancelAll() }
                    return try await watcher.settled(id, within: wait)
                }
            }
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
                _ = try await engine.reads.workflow(id)
                return try await engine.reads.history(id)
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
        commandName: "dead-letters", abstract: "Inspect and resolve dead letters, one by one or every one a filter matches.",
        subcommands: [List.self, Groups.self, Show.self, Retry.self, Discard.self])

    /// Which dead letters: each flag given must match.
    struct FilterOptions: ParsableArguments {
        @Option(help: "Only those of workflows of this type.") var workflowType: String?
        @Option(help: "Only this activity's.") var activity: String?
        @Option(help: "Only those whose last error has this code.") var errorCode: String?
        @Option(help: "Only this group (see `dead-letters groups`).") var fingerprint: String?
        @Option(help: "Only those whose last error message contains this text (case ignored).") var text: String?
        @Option(help: "Only those dead-lettered at or after this time: RFC 3339, or how long ago (1h).") var createdAfter: PointInTime?
        @Option(help: "Only those dead-lettered before this time: RFC 3339, or how long ago (1h).") var createdBefore: PointInTime?

        var filter: DeadLetterFilter {
            DeadLetterFilter(
                workflowType: workflowType, activity: activity, errorCode: errorCode, fingerprint: fingerprint, text: text,
                createdAfter: createdAfter?.date, createdBefore: createdBefore?.date)
        }
        var isEmpty: Bool {
            [workflowType, activity, errorCode, fingerprint, text].allSatisfy { $0 == nil } && createdAfter == nil && createdBefore == nil
        }
    }

    struct List: AsyncParsableCommand {
        @OptionGroup var options: OpsOptions
        @OptionGroup var filter: FilterOptions
        @Option(help: "Only this status.") var status: DeadLetterRecord.Status = .open
        @Option(help: "How many, newest first.") var limit = 50

        func run() async throws {
            var selected = filter.filter
            selected.status = status
            let (chosen, limit) = (selected, limit)
            let letters = try await options.withEngine { try await $0.operations.deadLetters(chosen, limit: limit) }
            options.emit(
                list: .array(letters.map(Representation.deadLetter)),
                header: ["ID", "WORKFLOW", "TYPE", "STATE", "ACTIVITY", "ERROR", "ATTEMPTS", "STATUS", "CREATED", "MESSAGE"],
                rows: letters.map { ["\($0.id)", $0.workflowID, $0.workflowType, $0.state, $0.activity, $0.errorCode, "\($0.attempts.count)", $0.status.rawValue, short($0.createdAt), String($0.errorMessage.prefix(60))] },
                empty: "no \(status.rawValue) dead letters" + (filter.isEmpty ? "" : " match"))
        }
    }

    struct Groups: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open dead letters grouped by cause: activity, error code and message with ids masked.")
        @OptionGroup var options: OpsOptions
        @OptionGroup var filter: FilterOptions
        @Option(help: "How many groups, the largest first.") var limit = 50

        func run() async throws {
            let (chosen, limit) = (filter.filter, limit)
            let groups = try await options.withEngine { try await $0.operations.deadLetterGroups(chosen, limit: limit) }
            options.emit(
                list: .array(groups.map(Representation.deadLetterGroup)),
                header: ["FINGERPRINT", "COUNT", "ACTIVITY", "ERROR", "FIRST SEEN", "LAST SEEN", "MESSAGE"],
                rows: groups.map { [$0.fingerprint, "\($0.count)", $0.activity, $0.errorCode, short($0.firstSeen), short($0.lastSeen), String($0.messagePattern.prefix(60))] },
                empty: "no open dead letters" + (filter.isEmpty ? "" : " match"))
        }
    }

    struct Show: AsyncParsableCommand {
        @OptionGroup var options: OpsOptions
        @Argument var id: Int64

        func run() async throws {
            let id = id
            let letter = try await options.withEngine { try await $0.operations.deadLetter(id) }
            options.emit(Representation.deadLetter(letter), table: DeadLettersCommand.describe(letter))
        }
    }

    /// How one of the resolving commands was asked: one dead letter, or every one a filter matches.
    struct ResolutionOptions: ParsableArguments {
        @Argument(help: "A dead letter's id; without it, every open one the filter (or --all) matches.") var id: Int64?
        @OptionGroup var filter: FilterOptions
        @Flag(help: "Every open dead letter (when no filter is given).") var all = false
        @Flag(help: "Only count what would be resolved.") var dryRun = false
        @Option(help: "Why: kept with every dead letter resolved (required for many).") var reason: String?
        @Option(help: "Dead letters per batch, each one in its own transaction.") var batch = 500

        func validate() throws {
            if id != nil, !filter.isEmpty || all || dryRun { throw ValidationError("give either a dead letter's id, or a filter (or --all), not both") }
            if id == nil, filter.isEmpty, !all { throw ValidationError("give a dead letter's id, a filter such as --fingerprint (see `dead-letters groups`), or --all") }
            if id == nil, !dryRun, reason == nil { throw ValidationError("--reason is required to resolve many dead letters: say why") }
            guard (1...10_000).contains(batch) else { throw ValidationError("--batch must be between 1 and 10000") }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the task again (same idempotency key); the workflow resumes.")
        @OptionGroup var options: OpsOptions
        @OptionGroup var resolution: ResolutionOptions
        @Option(help: "A JSON Merge Patch (RFC 7396) of the task's input, e.g. '{\"card\": \"pm_card_visa\"}'.") var patch: String?

        func run() async throws {
            let inputPatch = try patch.map { text in
                guard let value = try? JSONValue(json: text), case .object = value else { throw ValidationError("--patch must be a JSON object") }
                return value
            }
            try await DeadLettersCommand.resolve(.retry, resolution, inputPatch: inputPatch, options: options)
        }
    }

    struct Discard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give up on the task; the workflow fails or compensates.")
        @OptionGroup var options: OpsOptions
        @OptionGroup var resolution: ResolutionOptions

        func run() async throws {
            try await DeadLettersCommand.resolve(.discard, resolution, inputPatch: nil, options: options)
        }
    }

    /// Resolves one dead letter, or every one the filter matches batch by batch (printing the
    /// progress), as the command-line user.
    static func resolve(
        _ action: DeadLetterResolution.Action, _ resolution: ResolutionOptions, inputPatch: JSONValue?, options: OpsOptions
    ) async throws {
        let actor = options.actor
        let reason = resolution.reason
        if let id = resolution.id {
            let letter = try await options.withEngine { engine in
                switch action {
                case .retry: try await engine.operations.retryDeadLetter(id, by: actor, reason: reason, inputPatch: inputPatch)
                case .discard: try await engine.operations.discardDeadLetter(id, by: actor, reason: reason)
                }
            }
            options.emit(Representation.deadLetter(letter), table: "dead letter \(id) \(action == .retry ? "retried" : "discarded") by \(actor)")
            return
        }
        let (filter, dryRun, batch) = (resolution.filter.filter, resolution.dryRun, resolution.batch)
        let results = try await options.withEngine { engine in
            var results: [DeadLetterResolution] = []
            var covered = filter
            repeat {
                let result = try await engine.operations.resolveDeadLetters(
                    action, matching: covered, by: actor, reason: reason ?? "", inputPatch: inputPatch, dryRun: dryRun, limit: batch)
                covered.upToID = result.upToID
                results.append(result)
                if !dryRun, !options.json {
                    print("\(action.rawValue): \(results.map(\.resolved).reduce(0, +)) resolved, \(results.flatMap(\.failures).count) failed, \(result.remaining) left")
                }
                // A batch that resolves nothing cannot make progress: its failures stay open.
                if result.resolved == 0 { break }
            } while !dryRun && results.last!.remaining > 0
            return results
        }
        let failures = results.flatMap(\.failures)
        let summary: JSONValue = [
            "action": .string(action.rawValue), "dry_run": .bool(dryRun), "matched": .number(Double(results.first?.matched ?? 0)),
            "resolved": .number(Double(results.map(\.resolved).reduce(0, +))),
            "failed": .array(failures.map { ["id": .string(String($0.deadLetterID)), "code": .string($0.code), "message": .string($0.message)] }),
            "remaining": .number(Double(results.last?.remaining ?? 0)),
        ]
        let matched = results.first?.matched ?? 0
        options.emit(summary, table: dryRun
            ? "\(matched) open dead letters match; run again without --dry-run (and with --reason) to \(action.rawValue) them"
            : failures.map { "dead letter \($0.deadLetterID): \($0.code): \($0.message)" }.joined(separator: "\n"))
    }

    static func describe(_ letter: DeadLetterRecord) -> String {
        table(["FIELD", "VALUE"], [
            ["id", "\(letter.id)"], ["workflow", "\(letter.workflowID) (\(letter.workflowType))"], ["state", letter.state],
            ["activity", letter.activity], ["status", letter.status.rawValue], ["fingerprint", letter.fingerprint],
            ["resolved", letter.resolvedBy.map { "\($0) at \(short(letter.resolvedAt))" + (letter.resolutionReason.map { ": \($0)" } ?? "") } ?? "-"],
        ]) + "\n\n" + table(["ATTEMPT", "AT", "CODE", "MESSAGE"], letter.attempts.map { ["\($0.attempt)", short($0.at), $0.code, $0.message] })
    }
}

struct LateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "late", abstract: "Late tasks: not started in time, running too long, or lease expired.")
    @OptionGroup var options: OpsOptions
    @Option(help: "A ready task not started within this is late, e.g. 60s (env ORCHESTRATOR_LATE_AFTER; a workflow file's late_after wins).")
    var lateAfter: String?

    func run() async throws {
        let lateAfter = try EngineOptions.lateAfter(lateAfter, environment: options.location.environment)
        let dashboard = try await options.withEngine { try await $0.reads.dashboard(lateAfter: lateAfter) }
        options.emit(
            list: Representation.dashboard(dashboard)["late_tasks"] ?? [], header: ["TASK", "WORKFLOW", "TYPE", "STATE", "ACTIVITY", "LATE BY", "WHY"],
            rows: dashboard.lateTasks.map { ["\($0.taskID)", $0.workflowID, $0.workflowType, $0.state, $0.activity, String(format: "%.1fs", $0.lateBySeconds), $0.cause?.message ?? $0.reason.rawValue] },
            empty: "no late tasks")
    }
}
