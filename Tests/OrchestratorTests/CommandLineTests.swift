import Activities
import Foundation
import NIOHTTP1
import Orchestrator
import PostgresNIO
import Testing

/// The `orchestrator` executable as operators use it.
@Suite struct CommandLineTests {
    static let slowpoke = """
        type: slowpoke
        start: work
        states:
          work: {task: sleep, input: {duration: 2s}, next: done}
          done: {succeed: true}
        """

    static var invalidFixtures: String {
        Executable.packageRoot.appendingPathComponent("Tests/WorkflowsTests/Fixtures/invalid").path
    }

    @Test func serveFinishesRunningTasksOnSIGTERMAndExitsCleanly() async throws {
        try #require(Executable.exists)
        var registry = TestDatabase.registry()
        registry.register(SleepActivity())
        try await TestDatabase.withHarness(workflows: [Self.slowpoke], registry: registry, clockStart: Date()) { harness in
            let folder = try Executable.temporaryFolder()
            defer { try? FileManager.default.removeItem(at: folder) }
            try Self.slowpoke.write(to: folder.appendingPathComponent("slowpoke.yaml"), atomically: true, encoding: .utf8)
            // Both wait before the server starts, so its first claim takes both: started one after
            // the other against a running server, the first could end before the second exists.
            let ids = [try await harness.start("slowpoke").id, try await harness.start("slowpoke").id]
            let (server, output) = try Executable.spawn(
                ["serve", "--workers", "2", "--workflows-dir", folder.path, "--database-url", harness.databaseURL], in: folder)
            var running: Int64 = 0
            let deadline = ContinuousClock.now + .seconds(60)
            while running < 2, ContinuousClock.now < deadline {
                running = try await harness.query("SELECT count(*) FROM orchestrator.tasks WHERE status = 'running'", as: Int64.self).first ?? 0
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(running == 2)
            server.send(SIGTERM)
            let exit = await server.exit(within: .seconds(30))
            await server.stop()
            let log = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            #expect(exit == .status(0), "\(log)")
            for id in ids { #expect(try await harness.engine.reads.workflow(id).status == .completed) }
        }
    }

    @Test func validatePrintsEveryErrorAndExitsNonZero() async throws {
        try #require(Executable.exists)
        let folder = try Executable.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (status, output) = try await Executable.run(["validate", "--workflows-dir", Self.invalidFixtures], in: folder)
        #expect(status != 0)
        for file in try FileManager.default.contentsOfDirectory(atPath: Self.invalidFixtures) {
            #expect(output.contains(file), "no error printed for \(file)")
        }
        #expect(output.contains("unknown_next.yaml: state 'a', field 'next': unknown state 'nowhere'"))
    }

    @Test func serveRefusesToStartOnAnInvalidWorkflowFile() async throws {
        try #require(Executable.exists)
        let folder = try Executable.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (status, output) = try await Executable.run(
            ["serve", "--workflows-dir", Self.invalidFixtures, "--database-url", "postgres://nobody@127.0.0.1:1/none"], in: folder)
        #expect(status != 0)
        #expect(output.contains("invalid workflow files"))
        #expect(output.contains("missing_next.yaml"))
    }

    @Test func serveRefusesABadSettingWithAMessageInsteadOfCrashing() async throws {
        try #require(Executable.exists)
        let folder = try Executable.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let workflows = ["--workflows-dir", Executable.packageRoot.appendingPathComponent("workflows.d").path]
        // Each fails after the activities' HTTP client could exist: it must be shut down on the way
        // out (AsyncHTTPClient traps on a client dropped unshut, and the process died of SIGILL).
        let cases: [(arguments: [String], environment: [String: String], message: String)] = [
            (["--database-url", "postgres://nobody@127.0.0.1:1/none"], ["ORCHESTRATOR_API_KEYS": "client:short"], "at least 16 characters"),
            (["--data-dir", "/dev/null/data"], ["ORCHESTRATOR_API_KEYS": "ops:tester:\(UUID().uuidString)"], "/dev/null/data"),
            (["--database-url", "postgres://nobody@127.0.0.1:1/none"],
             ["ORCHESTRATOR_API_KEYS": "ops:tester:\(UUID().uuidString)", "TWILIO_ACCOUNT_SID": "AC1"],
             "invalid settings: TWILIO_ACCOUNT_SID set but TWILIO_AUTH_TOKEN, TWILIO_FROM missing"),
        ]
        for (arguments, environment, message) in cases {
            let (status, output) = try await Executable.run(["serve"] + workflows + arguments, in: folder, environment: environment)
            #expect(status == 1, "\(output)")
            #expect(output.contains(message), "\(output)")
            #expect(!output.contains("Fatal error"))
        }
    }

    @Test func validateWithADatabaseReportsInstancesInRemovedStates() async throws {
        try #require(Executable.exists)
        let v1 = """
            type: moving
            start: old_step
            states:
              old_step: {task: noop, next: done}
              done: {succeed: true}
            """
        try await TestDatabase.withHarness(workflows: [v1]) { harness in
            let stranded = try await harness.start("moving")
            let folder = try Executable.temporaryFolder()
            defer { try? FileManager.default.removeItem(at: folder) }
            try """
                type: moving
                start: new_step
                states:
                  new_step: {task: noop, next: done}
                  done: {succeed: true}
                """.write(to: folder.appendingPathComponent("moving.yaml"), atomically: true, encoding: .utf8)
            let (status, output) = try await Executable.run(
                ["validate", "--workflows-dir", folder.path], in: folder, environment: ["DATABASE_URL": harness.databaseURL])
            #expect(status == 0)
            #expect(output.contains("workflow \(stranded.id) (moving) is running in state 'old_step'"))
        }
    }

    /// A command's connection pool runs before the command leases from it: PostgresNIO warns on
    /// the user's terminal about a lease that comes first.
    @Test func aCommandThatReadsTheDatabasePrintsNoConnectionPoolWarning() async throws {
        try #require(Executable.exists)
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            let folder = try Executable.temporaryFolder()
            defer { try? FileManager.default.removeItem(at: folder) }
            try ExecutionTests.chain.write(to: folder.appendingPathComponent("chain.yaml"), atomically: true, encoding: .utf8)
            let (status, output) = try await Executable.run(
                ["validate", "--workflows-dir", folder.path], in: folder, environment: ["DATABASE_URL": harness.databaseURL])
            #expect(status == 0, "\(output)")
            #expect(!output.contains("PostgresClient"), "\(output)")
        }
    }

    @Test func opsCommandsListShowAndResolveDeadLetters() async throws {
        try #require(Executable.exists)
        try await TestDatabase.withHarness(workflows: [ExecutionTests.flaky]) { harness in
            let workflow = try await harness.start("flaky", input: ["fail": "card_declined", "retryable": false])
            try await harness.drain()
            let folder = try Executable.temporaryFolder()
            defer { try? FileManager.default.removeItem(at: folder) }
            let env = ["DATABASE_URL": harness.databaseURL, "USER": "carol"]

            let (listStatus, listed) = try await Executable.run(["dead-letters", "list", "--json"], in: folder, environment: env)
            #expect(listStatus == 0)
            let letter = try #require(try JSONValue(json: listed).arrayValue?.first)
            #expect(letter["workflow_id"] == .string(workflow.id) && letter["error_code"] == "card_declined")
            let letterID = try #require(letter["id"]?.stringValue)

            let (_, shown) = try await Executable.run(["dead-letters", "show", letterID], in: folder, environment: env)
            #expect(shown.contains("card_declined") && shown.contains("scripted failure 1"))
            let (_, table) = try await Executable.run(["workflows", "list"], in: folder, environment: env)
            #expect(table.hasPrefix("ID") && table.contains(workflow.id) && table.contains("dead_lettered"))

            let (retryStatus, _) = try await Executable.run(["dead-letters", "retry", letterID], in: folder, environment: env)
            #expect(retryStatus == 0)
            #expect(try await harness.engine.operations.deadLetter(Int64(letterID)!).resolvedBy == "cli:carol")
            let (againStatus, again) = try await Executable.run(["dead-letters", "retry", letterID], in: folder, environment: env)
            #expect(againStatus != 0 && again.contains("dead_letter.already_resolved"))

            let (_, history) = try await Executable.run(["workflows", "history", workflow.id, "--json"], in: folder, environment: env)
            #expect(try JSONValue(json: history).arrayValue?.contains { $0["type"] == "dead_letter_retried" } == true)
            let (lateStatus, late) = try await Executable.run(["late", "--late-after", "1s", "--json"], in: folder, environment: env)
            #expect(lateStatus == 0 && (try? JSONValue(json: late).arrayValue) != nil)
        }
    }

    @Test func opsCommandsFindTheRunningServerFromAnyFolder() async throws {
        try #require(Executable.exists)
        let server = try await APIServerProcess(workflows: [HTTPAPITests.approval], databaseURL: nil)
        let elsewhere = try Executable.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: elsewhere) }
        do {
            let started = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "approval", "input": [:]])
            let id = try #require(started.json["id"]?.stringValue)
            // Where the server published itself for this user's other commands.
            let state = server.folder.appendingPathComponent("state").path
            let published = try JSONValue(json: String(contentsOfFile: state + "/orchestrator/server.json", encoding: .utf8))
            #expect(published["url"] == .string("http://127.0.0.1:\(server.port)") && published["embedded_database"] == true)

            let (listed, table) = try await Executable.run(["workflows", "list"], in: elsewhere, environment: ["XDG_STATE_HOME": state])
            #expect(listed == 0 && table.contains(id) && table.contains("signal approved"), "\(table)")
            let dataDir = server.folder.appendingPathComponent("data").path
            let (shown, fields) = try await Executable.run(["workflows", "show", id, "--data-dir", dataDir], in: elsewhere)
            #expect(shown == 0 && fields.contains("waiting for  signal approved"), "\(fields)")
            // validate takes the server's workflow files and checks its live instances.
            let (validated, report) = try await Executable.run(["validate"], in: elsewhere, environment: ["XDG_STATE_HOME": state])
            #expect(validated == 0 && report.contains("ok  approval") && report.contains("no live instance in 127.0.0.1:"), "\(report)")
            // No server to be found: the message says how to point at one.
            let (none, message) = try await Executable.run(["workflows", "list"], in: elsewhere)
            #expect(none != 0 && message.contains("no database: no server runs") && message.contains("--data-dir"), "\(message)")
        } catch {
            await server.stop()
            throw error
        }
        // Stopped, it withdraws what it published.
        #expect(await server.terminate(within: .seconds(60)))
        #expect(!FileManager.default.fileExists(atPath: server.folder.appendingPathComponent("state/orchestrator/server.json").path))
        #expect(!FileManager.default.fileExists(atPath: server.folder.appendingPathComponent("data/server.json").path))
        await server.stop()
    }

    @Test func opsCommandsNameValidValuesAndSayWhenThereIsNothingToList() async throws {
        try #require(Executable.exists)
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            let folder = try Executable.temporaryFolder()
            defer { try? FileManager.default.removeItem(at: folder) }
            let env = ["DATABASE_URL": harness.databaseURL]
            let (badStatus, badOutput) = try await Executable.run(["workflows", "list", "--status", "done"], in: folder, environment: env)
            #expect(badStatus != 0 && badOutput.contains("The value 'done' is invalid for '--status <status>'") && badOutput.contains("dead_lettered"), "\(badOutput)")
            let (_, workflows) = try await Executable.run(["workflows", "list", "--type", "chain"], in: folder, environment: env)
            #expect(workflows.trimmingCharacters(in: .whitespacesAndNewlines) == "no workflows of type chain")
            let (_, letters) = try await Executable.run(["dead-letters", "list"], in: folder, environment: env)
            #expect(letters.trimmingCharacters(in: .whitespacesAndNewlines) == "no open dead letters")
            let (_, late) = try await Executable.run(["late"], in: folder, environment: env)
            #expect(late.trimmingCharacters(in: .whitespacesAndNewlines) == "no late tasks")
            let (_, help) = try await Executable.run(["late", "--help"], in: folder)
            #expect(help.contains("--late-after") && !help.contains("--workers") && !help.contains("--activity-limits"), "\(help)")
        }
    }

    @Test func workflowsListFindsThemByHowLongAgoTheyStarted() async throws {
        try #require(Executable.exists)
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            let started = try await harness.start("chain").id
            let folder = try Executable.temporaryFolder()
            defer { try? FileManager.default.removeItem(at: folder) }
            let env = ["DATABASE_URL": harness.databaseURL]
            let (_, recent) = try await Executable.run(["workflows", "list", "--created-after", "1h"], in: folder, environment: env)
            #expect(recent.contains(started), "\(recent)")
            let (_, older) = try await Executable.run(["workflows", "list", "--created-before", "1h"], in: folder, environment: env)
            #expect(older.trimmingCharacters(in: .whitespacesAndNewlines) == "no workflows started in that time")
            let (bad, message) = try await Executable.run(["workflows", "list", "--created-after", "yesterday"], in: folder, environment: env)
            #expect(bad != 0 && message.contains("The value 'yesterday' is invalid for '--created-after"), "\(message)")
        }
    }

    @Test func workflowsShowWaitsUntilTheWorkflowEnds() async throws {
        try #require(Executable.exists)
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            let started = try await harness.start("chain").id
            let folder = try Executable.temporaryFolder()
            defer { try? FileManager.default.removeItem(at: folder) }
            let env = ["DATABASE_URL": harness.databaseURL]
            let (_, early) = try await Executable.run(["workflows", "show", started, "--wait", "200ms", "--json"], in: folder, environment: env)
            #expect(try JSONValue(json: early)["status"] == "running", "\(early)")
            async let waited = Executable.run(["workflows", "show", started, "--wait", "120s", "--json"], in: folder, environment: env)
            try await Task.sleep(for: .milliseconds(500))
            _ = try await harness.drain()
            let (status, output) = try await waited
            #expect(status == 0 && (try? JSONValue(json: output))?["status"] == "completed", "\(output)")
        }
    }

    @Test func deadLetterCommandsGroupCountThenResolveEveryOneAFilterMatchesWithAReason() async throws {
        try #require(Executable.exists)
        try await TestDatabase.withHarness(workflows: [ExecutionTests.flaky]) { harness in
            for n in 1...3 { _ = try await harness.start("flaky", input: ["fail": "card_declined", "retryable": false, "n": .number(Double(n))]) }
            try await harness.drain()
            let folder = try Executable.temporaryFolder()
            defer { try? FileManager.default.removeItem(at: folder) }
            let env = ["DATABASE_URL": harness.databaseURL, "USER": "dora"]
            let (_, listed) = try await Executable.run(["dead-letters", "groups", "--json"], in: folder, environment: env)
            let group = try #require(try JSONValue(json: listed).arrayValue?.first)
            #expect(group["count"] == 3 && group["message_pattern"] == "scripted failure #", "\(listed)")
            let fingerprint = try #require(group["fingerprint"]?.stringValue)

            let (unsure, refusal) = try await Executable.run(["dead-letters", "discard", "--fingerprint", fingerprint], in: folder, environment: env)
            #expect(unsure != 0 && refusal.contains("--reason is required"), "\(refusal)")
            let (_, dry) = try await Executable.run(["dead-letters", "discard", "--fingerprint", fingerprint, "--dry-run"], in: folder, environment: env)
            #expect(dry.contains("3 open dead letters match"), "\(dry)")
            #expect(try await harness.engine.operations.deadLetters(.init(status: .open)).count == 3)
            let (status, done) = try await Executable.run(
                ["dead-letters", "discard", "--fingerprint", fingerprint, "--reason", "orders cancelled by the shop", "--batch", "2"], in: folder, environment: env)
            #expect(status == 0 && done.contains("discard: 2 resolved") && done.contains("discard: 3 resolved, 0 failed, 0 left"), "\(done)")
            let discarded = try await harness.engine.operations.deadLetters(.init(status: .discarded))
            #expect(discarded.count == 3 && discarded.allSatisfy { $0.resolvedBy == "cli:dora" && $0.resolutionReason == "orders cancelled by the shop" })
        }
    }

    @Test func limitsCommandsSetListAndRemoveTheSharedLimits() async throws {
        try #require(Executable.exists)
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            let folder = try Executable.temporaryFolder()
            defer { try? FileManager.default.removeItem(at: folder) }
            let env = ["DATABASE_URL": harness.databaseURL]
            let (setStatus, _) = try await Executable.run(["limits", "set", "payments.*", "3"], in: folder, environment: env)
            #expect(setStatus == 0)
            #expect(try await harness.engine.operations.activityLimits() == [ActivityLimit(pattern: "payments.*", maxRunning: 3)])
            let (_, listed) = try await Executable.run(["limits", "list", "--json"], in: folder, environment: env)
            #expect(try JSONValue(json: listed) == [["pattern": "payments.*", "max_running": 3]])
            let (removeStatus, _) = try await Executable.run(["limits", "remove", "payments.*"], in: folder, environment: env)
            #expect(removeStatus == 0)
            let (againStatus, again) = try await Executable.run(["limits", "remove", "payments.*"], in: folder, environment: env)
            #expect(againStatus != 0 && again.contains("no limit 'payments.*'"))
            #expect(try await harness.engine.operations.activityLimits().isEmpty)
        }
    }
}
