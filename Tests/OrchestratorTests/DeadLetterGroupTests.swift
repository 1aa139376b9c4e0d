import Foundation
import NIOHTTP1
import Orchestrator
import PostgresNIO
import Synchronization
import Testing

/// Dead letters as ops handle them: grouped by cause, searched, resolved in bulk with a reason.
@Suite struct DeadLetterGroupTests {
    /// Fails for good with the message of its input, unless the input says `fixed`; records the
    /// idempotency key of every run.
    static func registry(keys: KeyLog = KeyLog()) -> ActivityRegistry {
        var registry = TestDatabase.registry()
        registry.register("charge") { input, context in
            keys.record(context.idempotencyKey)
            if input["fixed"] == true { return ["charged": input["card"] ?? .null] }
            throw ActivityError.nonRetryable(input["code"]?.stringValue ?? "card_declined", input["message"]?.stringValue ?? "declined")
        }
        return registry
    }

    /// The idempotency keys an activity ran with, in order.
    final class KeyLog: Sendable {
        private let keys = Mutex<[String]>([])
        init() {}
        func record(_ key: String) { keys.withLock { $0.append(key) } }
        var all: [String] { keys.withLock { $0 } }
    }

    static let charge = """
        type: charge
        start: charge
        states:
          charge: {task: charge, next: done}
          done: {succeed: true, output: $.charge}
        """

    static func failing(_ harness: TestHarness, _ messages: [String], code: String = "card_declined") async throws -> [String] {
        var ids: [String] = []
        for message in messages {
            ids.append(try await harness.start("charge", input: ["code": .string(code), "message": .string(message), "card": "4000"]).id)
        }
        try await harness.drain()
        return ids
    }

    @Test func deadLettersWithOneCauseShareAGroupWhateverTheIdsAndValuesInTheirMessages() async throws {
        try await TestDatabase.withHarness(workflows: [Self.charge], registry: Self.registry()) { harness in
            _ = try await Self.failing(harness, [
                "card 4242 declined for 'ada@example.com' (pi_3Nq7xYz)",
                "card 1881 declined for 'bob@example.org' (pi_9Kk2aBc)",
                "card 77 declined for 'carol' (pi_1)",
            ])
            _ = try await Self.failing(harness, ["card 5 declined for \"dan\" (pi_2)"], code: "card_expired")
            _ = try await Self.failing(harness, ["gateway 10.0.0.7 timed out after 30s"], code: "gateway.timeout")
            let groups = try await harness.engine.operations.deadLetterGroups()
            #expect(groups.map(\.count) == [3, 1, 1])
            let declined = try #require(groups.first)
            #expect(declined.messagePattern == "card # declined for '?' (#)")
            #expect(declined.activity == "charge" && declined.errorCode == "card_declined" && declined.workflowTypes == ["charge"])
            // Another error code is another cause, even with the same words.
            #expect(Set(groups.dropFirst().map(\.messagePattern)) == ["gateway # timed out after #", "card # declined for \"?\" (#)"])
            let members = try await harness.engine.operations.deadLetters(.init(fingerprint: declined.fingerprint))
            #expect(members.count == 3 && members.allSatisfy { $0.fingerprint == declined.fingerprint })
            #expect(declined.sampleMessage == members.max { $0.id < $1.id }?.errorMessage)  // the newest one's

            // Searchable by the text of the message, case ignored.
            let found = try await harness.engine.operations.deadLetters(.init(text: "BOB@EXAMPLE"))
            #expect(found.map(\.errorMessage) == ["card 1881 declined for 'bob@example.org' (pi_9Kk2aBc)"])
        }
    }

    @Test func aBulkRetryCountsFirstNeedsAReasonThenResumesEveryWorkflowWithItsKeyAndThePatchedInput() async throws {
        let keys = KeyLog()
        try await TestDatabase.withHarness(workflows: [Self.charge], registry: Self.registry(keys: keys)) { harness in
            let ids = try await Self.failing(harness, ["card 1 declined", "card 2 declined", "card 3 declined"])
            let firstKeys = keys.all
            let group = try #require(try await harness.engine.operations.deadLetterGroups().first)
            let filter = DeadLetterFilter(fingerprint: group.fingerprint)

            let dry = try await harness.engine.operations.resolveDeadLetters(.retry, matching: filter, by: "alice", reason: "", dryRun: true)
            #expect(dry.matched == 3 && dry.resolved == 0 && dry.remaining == 3 && dry.upToID != nil)
            #expect(try await harness.engine.operations.deadLetters(.init(status: .open)).count == 3)
            await ExecutionTests.expectCode(.invalidInput) {
                _ = try await harness.engine.operations.resolveDeadLetters(.retry, matching: filter, by: "alice", reason: "  ")
            }

            let done = try await harness.engine.operations.resolveDeadLetters(
                .retry, matching: filter, by: "alice", reason: "card network back up", inputPatch: ["fixed": true])
            #expect(done.matched == 3 && done.resolved == 3 && done.failures.isEmpty && done.remaining == 0)
            try await harness.drain()
            for id in ids {
                let workflow = try await harness.engine.reads.workflow(id)
                #expect(workflow.status == .completed && workflow.output == ["charged": "4000"])
                let retried = try #require(try await harness.engine.reads.history(id).first { $0.type == .deadLetterRetried })
                #expect(retried.data?["by"] == "alice" && retried.data?["reason"] == "card network back up" && retried.data?["input_patch"] == ["fixed": true])
            }
            // The retried runs used the keys of the first ones: an outside service sees the same request again.
            #expect(Set(keys.all) == Set(firstKeys) && keys.all.count == 2 * firstKeys.count)
            let resolved = try await harness.engine.operations.deadLetters(.init(status: .retried))
            #expect(resolved.count == 3 && resolved.allSatisfy { $0.resolvedBy == "alice" && $0.resolutionReason == "card network back up" })
            let actions = try await harness.query(
                "SELECT action || ':' || actor || ':' || reason || ':' || matched || ':' || resolved FROM orchestrator.dead_letter_actions", as: String.self)
            #expect(actions == ["retry:alice:card network back up:3:3"])
        }
    }

    @Test func aBulkDiscardTakesWhatTheDryRunCountedNotWhatArrivedSinceAndAtMostItsLimit() async throws {
        try await TestDatabase.withHarness(workflows: [Self.charge], registry: Self.registry()) { harness in
            _ = try await Self.failing(harness, ["card 1 declined", "card 2 declined", "card 3 declined"])
            let dry = try await harness.engine.operations.resolveDeadLetters(.discard, matching: .init(errorCode: "card_declined"), by: "bob", reason: "", dryRun: true)
            let late = try await Self.failing(harness, ["card 4 declined"])

            let covered = DeadLetterFilter(errorCode: "card_declined", upToID: dry.upToID)
            let first = try await harness.engine.operations.resolveDeadLetters(.discard, matching: covered, by: "bob", reason: "customer cancelled", limit: 2)
            #expect(first.matched == 3 && first.resolved == 2 && first.remaining == 1)
            let second = try await harness.engine.operations.resolveDeadLetters(.discard, matching: covered, by: "bob", reason: "customer cancelled", limit: 2)
            #expect(second.matched == 1 && second.resolved == 1 && second.remaining == 0)
            let open = try await harness.engine.operations.deadLetters(.init(status: .open))
            #expect(open.map(\.workflowID) == late)
            await ExecutionTests.expectCode(.invalidInput) {
                _ = try await harness.engine.operations.resolveDeadLetters(.discard, matching: covered, by: "bob", reason: "x", inputPatch: ["a": 1])
            }
        }
    }

    @Test func bulkResolutionOverHTTPGroupsFiltersAndAnswersHowMany() async throws {
        let remote = ScriptedHTTPServer([.init(status: 404, body: "no such order")])
        try await remote.start()
        defer { Task { await remote.stop() } }
        try await TestDatabase.withServer(workflows: [HTTPAPITests.remote]) { server, harness in
            for n in 1...3 {
                _ = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "remote", "input": ["url": .string("\(remote.url)/orders/\(n)")]])
            }
            var groups: [JSONValue] = []
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                groups = try await server.request(.GET, "/v1/dead-letters/groups", role: "ops").json["items"]?.arrayValue ?? []
                if groups.first?["count"] == 3 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            let group = try #require(groups.first)
            #expect(group["count"] == 3 && group["error_code"] == "http.404", "\(group)")
            let fingerprint = try #require(group["fingerprint"]?.stringValue)
            #expect(try await server.request(.GET, "/v1/dead-letters/groups", role: "client").status == 403)

            let listed = try await server.request(.GET, "/v1/dead-letters?fingerprint=\(fingerprint)&text=NO%20SUCH%20ORDER", role: "ops")
            #expect(listed.json["items"]?.arrayValue?.count == 3)
            let badTime = try await server.request(.GET, "/v1/dead-letters?created_after=yesterday", role: "ops")
            #expect(badTime.status == 400 && badTime.code == "request.invalid_filter")

            let noReason = try await server.json(.POST, "/v1/dead-letters/discard", role: "ops", ["filter": ["fingerprint": .string(fingerprint)]])
            #expect(noReason.status == 422 && noReason.json["detail"]?.stringValue?.contains("reason is required") == true)
            let dry = try await server.json(.POST, "/v1/dead-letters/discard", role: "ops", ["filter": ["fingerprint": .string(fingerprint)], "dry_run": true])
            #expect(dry.status == 200 && dry.json["matched"] == 3 && dry.json["resolved"] == 0 && dry.json["dry_run"] == true)
            let upTo = try #require(dry.json["up_to_id"]?.stringValue)
            let done = try await server.json(.POST, "/v1/dead-letters/discard", role: "ops", [
                "filter": ["fingerprint": .string(fingerprint), "up_to_id": .string(upTo)], "reason": "duplicate orders",
            ])
            #expect(done.status == 200 && done.json["resolved"] == 3 && done.json["remaining"] == 0 && done.json["failed"] == [], "\(done.text)")
            let letter = try #require(try await harness.engine.operations.deadLetters(.init(status: .discarded)).first)
            #expect(letter.resolvedBy == "alice" && letter.resolutionReason == "duplicate orders")
            // Discarded, the workflows fail with the task's error.
            let failed = try await server.waitForWorkflow(letter.workflowID) { $0["status"] == "failed" }
            #expect(failed["error"]?["code"] == "http.404")
        }
    }
}
