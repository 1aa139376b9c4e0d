import Foundation
import Orchestrator
import Testing
import Workflows

@Suite struct WorkflowLoaderTests {
    let loader = WorkflowLoader(knownActivities: ["noop", "http", "sleep"])

    static var fixtures: URL { Bundle.module.url(forResource: "Fixtures", withExtension: nil)! }

    func errors(_ file: String) throws -> [WorkflowFileError] {
        let url = Self.fixtures.appendingPathComponent("invalid/\(file)")
        let text = try String(contentsOf: url, encoding: .utf8)
        switch loader.load(yaml: text, file: file) {
        case .success: return []
        case .failure(let failure): return failure.errors
        }
    }

    @Test(arguments: [
        ("unknown_activity.yaml", "a", "task", "unknown activity 'does.not.exist'"),
        ("unknown_next.yaml", "a", "next", "unknown state 'nowhere'"),
        ("missing_next.yaml", "a", "next", "is required"),
        ("unreachable.yaml", "orphan", nil, "unreachable"),
        ("no_terminal.yaml", nil, "states", "no terminal state"),
        ("bad_duration.yaml", "a", "timeout", "bad duration '5x'"),
        ("bad_path.yaml", "a", "input", "bad path"),
        ("bad_cron.yaml", nil, "schedule.cron", "minute field '61'"),
        ("invalid_yaml.yaml", nil, nil, "invalid YAML"),
        ("two_kinds.yaml", "a", nil, "several kinds"),
        ("type_mismatch.yaml", nil, "type", "must match the file name"),
        ("unknown_field.yaml", "a", "nxt", "unknown field"),
        ("wait_timeout_and_until.yaml", "a", "until", "exclude each other"),
        ("alias_bomb.yaml", nil, nil, "more than 50000 YAML nodes"),
        ("writes_input.yaml", "a", "result", "input is read-only"),
    ] as [(String, String?, String?, String)])
    func reportsEachBrokenFileWithStateAndField(file: String, state: String?, field: String?, message: String) throws {
        let found = try errors(file)
        #expect(
            found.contains { $0.file == file && $0.state == state && $0.field == field && $0.description.contains(message) },
            "expected \(state ?? "-")/\(field ?? "-") '\(message)' in \(found)")
    }

    @Test func aMisspelledNameIsOneErrorThatSuggestsTheRightOne() throws {
        let yaml = """
            type: typo
            start: validate
            signal_roles: {delivery_confirmd: [ops]}
            states:
              validate: {task: nop, next: shp}
              ship: {task: noop, next: wait}
              wait: {wait_for: delivery_confirmed, next: done}
              done: {succeed: true}
            """
        guard case .failure(let failure) = loader.load(yaml: yaml, file: "typo.yaml") else {
            Issue.record("a file with a misspelled next was accepted")
            return
        }
        // Not also "unreachable" for every state behind the typo.
        #expect(failure.errors.map(\.message).sorted() == [
            "'delivery_confirmd' is not a signal any wait_for waits for (did you mean 'delivery_confirmed'?)",
            "unknown activity 'nop' (did you mean 'noop'?)",
            "unknown state 'shp' (did you mean 'ship'?)",
        ])
        guard case .failure(let far) = loader.load(yaml: yaml.replacingOccurrences(of: "next: shp", with: "next: elsewhere"), file: "typo.yaml") else { return }
        #expect(far.errors.contains { $0.message == "unknown state 'elsewhere'; the states are done, ship, validate, wait" })
    }

    @Test func aFileTooLargeIsRefusedAndNoErrorEchoesAWholeFile() throws {
        let huge = "type: huge\nstart: a\nstates:\n  a: {succeed: true}\n# " + String(repeating: "x", count: 300_000) + "\n"
        guard case .failure(let failure) = loader.load(yaml: huge, file: "huge.yaml") else {
            Issue.record("a 300 kB file was accepted")
            return
        }
        #expect(failure.errors.map(\.message) == ["the file is larger than 256 KiB"])
        let garbage = "type: [" + String(repeating: "y", count: 5000)
        guard case .failure(let broken) = loader.load(yaml: garbage, file: "garbage.yaml") else {
            Issue.record("garbage was accepted")
            return
        }
        #expect(broken.errors.allSatisfy { $0.description.count < 1000 }, "\(broken.errors.map(\.description.count))")
    }

    @Test func reportsEveryErrorOfAFileNotJustTheFirst() throws {
        let found = try errors("bad_duration.yaml")
        #expect(found.count == 2)
        #expect(found.contains { $0.field == "retry.initial_interval" && $0.state == nil })
        #expect(found.contains { $0.field == "timeout" && $0.state == "a" && $0.line == 5 })
    }

    @Test func directoryWithOneBadFileLoadsNothingAndListsAllErrors() throws {
        #expect {
            try loader.loadDirectory(Self.fixtures.appendingPathComponent("invalid").path)
        } throws: { error in
            let failure = try #require(error as? ValidationFailure)
            // Every file but unknown_child_type.yaml fails alone; that one only against the folder.
            return Set(failure.errors.map(\.file)).count == 16
                && failure.errors.contains { $0.file == "unknown_child_type.yaml" && $0.state == "a" && $0.field == "start_workflow.type" }
        }
    }

    @Test func shippedExampleLoadsWithAVersion() throws {
        let definitions = try loader.loadDirectory(Self.fixtures.appendingPathComponent("valid").path)
        let definition = try #require(definitions.first)
        #expect(definition.type == "order_fulfillment")
        #expect(definition.version.count == 16)
        guard case .map(let spec)? = definition.states["ship_lines"]?.kind else {
            Issue.record("ship_lines is not a map")
            return
        }
        #expect(spec.maxConcurrency == 4)
        #expect(definition.retry.maxAttempts == 5)
    }

    @Test func versionIgnoresFormattingButFollowsContent() throws {
        let compact = "type: v\nstart: a\nstates: {a: {task: noop, next: b}, b: {succeed: true}}\n"
        let spaced = "# comment\ntype: v\nstates:\n  b:\n    succeed: true\n  a:\n    next: b\n    task: noop\nstart: a\n"
        let changed = "type: v\nstart: a\nstates: {a: {task: noop, next: b, timeout: 9s}, b: {succeed: true}}\n"
        let first = try loader.load(yaml: compact, file: "v.yaml").get()
        let second = try loader.load(yaml: spaced, file: "v.yaml").get()
        let third = try loader.load(yaml: changed, file: "v.yaml").get()
        #expect(first.version == second.version)
        #expect(first.version != third.version)
    }

    @Test func stateRetryOverridesOnlyTheFieldsItGives() throws {
        let yaml = """
            type: r
            start: a
            retry: {max_attempts: 7, initial_interval: 2s, jitter: none}
            states:
              a: {task: noop, retry: {max_attempts: 2, non_retryable: [card_declined, http.*]}, next: b}
              b: {succeed: true}
            """
        let definition = try loader.load(yaml: yaml, file: "r.yaml").get()
        let retry = try #require(definition.states["a"]?.taskSpec?.retry)
        #expect(retry.maxAttempts == 2)
        #expect(retry.initialInterval == .seconds(2))
        #expect(retry.jitter == .none)
        #expect(retry.nonRetryable.matches("http.404"))
        #expect(!retry.nonRetryable.matches("http"))
    }
}

@Suite struct CronExpressionTests {
    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    func date(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int) -> Date {
        Self.utc.date(from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute))!
    }

    @Test func nextFireTimes() throws {
        #expect(try CronExpression("0 2 * * *").next(after: date(2026, 11, 25, 2, 0)) == date(2026, 11, 26, 2, 0))
        #expect(try CronExpression("*/15 * * * *").next(after: date(2026, 11, 25, 10, 7)) == date(2026, 11, 25, 10, 15))
        #expect(try CronExpression("30 9 * * 1-5").next(after: date(2026, 11, 27, 10, 0)) == date(2026, 11, 30, 9, 30))  // Fri → Mon
        #expect(try CronExpression("0 0 29 2 *").next(after: date(2026, 3, 1, 0, 0)) == date(2028, 2, 29, 0, 0))
        #expect(try CronExpression("0 0 1 * 0").next(after: date(2026, 11, 25, 0, 0)) == date(2026, 11, 29, 0, 0))  // Sunday or the 1st
        #expect(try CronExpression("0 0 31 2 *").next(after: date(2026, 1, 1, 0, 0)) == nil)
    }

    @Test(arguments: ["* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "*/0 * * * *", "a * * * *", "5-1 * * * *"])
    func rejectsBadExpressions(_ text: String) {
        #expect(throws: CronExpression.ParseError.self) { try CronExpression(text) }
    }
}
