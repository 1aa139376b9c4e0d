import Foundation
import Orchestrator
import PostgresNIO
import Testing

@Suite struct ExecutionTests {
    static let chain = """
        type: chain
        start: one
        states:
          one: {task: noop, input: {i: $.input.i, step: 1}, next: two}
          two: {task: noop, input: {i: $.one.i, step: 2}, next: three}
          three: {task: noop, input: {i: $.two.i, step: 3}, next: done}
          done: {succeed: true, output: $.three}
        """

    static let flaky = """
        type: flaky
        start: call
        retry: {max_attempts: 3, initial_interval: 1s, backoff_coefficient: 2, max_interval: 1m, jitter: none}
        on_discard: compensate
        states:
          call: {task: script, input: $.input, next: done}
          done: {succeed: true}
          compensate: {task: noop, next: undone}
          undone: {fail: {error: compensated}}
        """

    @Test func runsAChainOfTasksToCompletionWithOrderedHistory() async throws {
        try await TestDatabase.withHarness(workflows: [Self.chain]) { harness in
            let started = try await harness.start("chain", input: ["i": 42])
            #expect(started.status == .running)
            #expect(started.state == "one")
            #expect(try await harness.drain() == 3)
            let finished = try await harness.engine.reads.workflow(started.id)
            #expect(finished.status == .completed)
            #expect(finished.output == ["i": 42, "step": 3])
            #expect(finished.completedAt != nil)
            let history = try await harness.engine.reads.history(started.id)
            #expect(history.map(\.seq) == Array(1...history.count))
            #expect(history.first?.type == .workflowStarted)
            #expect(history.last?.type == .workflowCompleted)
            #expect(history.filter { $0.type == .taskCompleted }.map(\.state) == ["one", "two", "three"])
            #expect(try await harness.stateEntries(started.id) == ["one", "two", "three", "done"])
        }
    }

    @Test func retriesWithBackoffOnTheInjectedClockThenSucceeds() async throws {
        try await TestDatabase.withHarness(workflows: [Self.flaky]) { harness in
            let workflow = try await harness.start("flaky", input: ["fail": "boom", "times": 2])
            #expect(try await harness.drain() == 1)  // attempt 1 fails; retry due in 1s
            harness.clock.advance(by: .milliseconds(999))
            #expect(try await harness.drain() == 0)
            harness.clock.advance(by: .milliseconds(1))
            #expect(try await harness.drain() == 1)  // attempt 2 fails; retry due in 2s
            harness.clock.advance(by: .milliseconds(1999))
            #expect(try await harness.drain() == 0)
            harness.clock.advance(by: .milliseconds(1))
            #expect(try await harness.drain() == 1)  // attempt 3 succeeds
            #expect(try await harness.engine.reads.workflow(workflow.id).status == .completed)
            let failures = try await harness.engine.reads.history(workflow.id).filter { $0.type == .taskFailed }
            #expect(failures.map(\.attempt) == [1, 2])
            #expect(failures.map { $0.data?["error"]?["code"] } == ["boom", "boom"])
        }
    }

    @Test func deadLettersAfterMaxAttemptsAndResumesWhenOpsRetry() async throws {
        try await TestDatabase.withHarness(workflows: [Self.flaky]) { harness in
            let workflow = try await harness.start("flaky", input: ["fail": "gateway_down", "times": 3])
            for _ in 0..<3 {
                try await harness.drain()
                harness.clock.advance(by: .seconds(10))
            }
            let stuck = try await harness.engine.reads.workflow(workflow.id)
            #expect(stuck.status == .deadLettered)
            let letters = try await harness.engine.operations.deadLetters(.init(workflowID: workflow.id))
            let letter = try #require(letters.first)
            #expect(letters.count == 1)
            #expect(letter.status == .open)
            #expect(letter.errorCode == "gateway_down")
            #expect(letter.attempts.map(\.attempt) == [1, 2, 3])
            #expect(letter.activity == "script")

            // The script fails 3 times per task key; a retry gets fresh attempts and succeeds.
            let retried = try await harness.engine.operations.retryDeadLetter(letter.id, by: "ops:alice")
            #expect(retried.status == .retried)
            #expect(retried.resolvedBy == "ops:alice")
            #expect(try await harness.engine.reads.workflow(workflow.id).status == .running)
            try await harness.drain()
            #expect(try await harness.engine.reads.workflow(workflow.id).status == .completed)
            let types = try await harness.engine.reads.history(workflow.id).map(\.type)
            #expect(types.contains(.taskDeadLettered) && types.contains(.deadLetterRetried))

            await Self.expectCode(.deadLetterResolved) {
                _ = try await harness.engine.operations.retryDeadLetter(letter.id, by: "ops:bob")
            }
        }
    }

    @Test func discardTakesTheOnDiscardPathOnceAndOnlyOnce() async throws {
        try await TestDatabase.withHarness(workflows: [Self.flaky]) { harness in
            let workflow = try await harness.start("flaky", input: ["fail": "card_declined", "retryable": false])
            try await harness.drain()
            let letter = try #require(try await harness.engine.operations.deadLetters(.init(workflowID: workflow.id)).first)
            #expect(letter.attempts.count == 1)  // non-retryable: no second attempt
            _ = try await harness.engine.operations.discardDeadLetter(letter.id, by: "ops:alice")
            try await harness.drain()
            let ended = try await harness.engine.reads.workflow(workflow.id)
            #expect(ended.status == .failed)
            #expect(ended.error?.code == "compensated")
            #expect(try await harness.stateEntries(workflow.id) == ["call", "compensate", "undone"])
            do {
                _ = try await harness.engine.operations.discardDeadLetter(letter.id, by: "ops:bob")
                Issue.record("a second discard succeeded")
            } catch let error as OrchestratorError {
                #expect(error.code == .deadLetterResolved)
            }
            let stored = try await harness.engine.operations.deadLetter(letter.id)
            #expect(stored.status == .discarded)
            #expect(stored.resolvedBy == "ops:alice")
        }
    }

    @Test func idempotentStartReturnsTheSameWorkflowAndRejectsAnotherBody() async throws {
        try await TestDatabase.withHarness(workflows: [Self.chain]) { harness in
            let first = try await harness.engine.lifecycle.start(StartRequest(type: "chain", input: ["i": 1], idempotencyKey: "key-1"))
            let again = try await harness.engine.lifecycle.start(StartRequest(type: "chain", input: ["i": 1], idempotencyKey: "key-1"))
            #expect(first.created && !again.created)
            #expect(first.workflow.id == again.workflow.id)
            await Self.expectCode(.idempotencyKeyReused) {
                _ = try await harness.engine.lifecycle.start(StartRequest(type: "chain", input: ["i": 2], idempotencyKey: "key-1"))
            }
            let byID = try await harness.engine.lifecycle.start(StartRequest(type: "chain", input: ["i": 1], id: "order-9"))
            let byIDAgain = try await harness.engine.lifecycle.start(StartRequest(type: "chain", input: ["i": 1], id: "order-9"))
            #expect(byID.created && !byIDAgain.created)
            await Self.expectCode(.workflowIDConflict) {
                _ = try await harness.engine.lifecycle.start(StartRequest(type: "chain", input: ["i": 3], id: "order-9"))
            }
            await Self.expectCode(.unknownWorkflowType) {
                _ = try await harness.engine.lifecycle.start(StartRequest(type: "nope"))
            }
            await Self.expectCode(.invalidInput) {
                _ = try await harness.engine.lifecycle.start(StartRequest(type: "chain", input: [1, 2]))
            }
            let count = try await harness.query("SELECT count(*) FROM orchestrator.workflows", as: Int64.self)
            #expect(count == [2])
        }
    }

    @Test func concurrentStartsWithOneKeyCreateOneWorkflow() async throws {
        try await TestDatabase.withHarness(workflows: [Self.chain]) { harness in
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<8 {
                    group.addTask { try await harness.engine.lifecycle.start(StartRequest(type: "chain", input: ["i": 1], idempotencyKey: "same")).workflow.id }
                }
                return try await group.reduce(into: Set<String>()) { $0.insert($1) }
            }
            #expect(ids.count == 1)
        }
    }

    @Test func aWorkerWhoseLeaseWasTakenCannotMoveTheWorkflow() async throws {
        try await TestDatabase.withHarness(workflows: [Self.chain]) { harness in
            let workflow = try await harness.start("chain", input: ["i": 1])
            let stale = try #require(try await harness.engine.queue.claim(owner: "slow-worker", limit: 1).first)
            // The slow worker's lease (30s timeout + 5s grace) expires; the rescuer takes the task back.
            harness.clock.advance(by: .seconds(36))
            #expect(try await harness.engine.queue.rescueExpiredLeases() == 1)
            harness.clock.advance(by: .seconds(1))  // the retry policy's backoff
            let fresh = try #require(try await harness.engine.queue.claim(owner: "fast-worker", limit: 1).first)
            #expect(fresh.id == stale.id && fresh.attempt == 2)
            let staleMoved = try await harness.engine.transaction { try await harness.engine.queue.conclude(stale, outcome: .completed(["stale": true]), on: $0) }
            #expect(!staleMoved)
            #expect(try await harness.engine.reads.workflow(workflow.id).state == "one")
            let freshMoved = try await harness.engine.transaction { try await harness.engine.queue.conclude(fresh, outcome: .completed(["i": 1]), on: $0) }
            #expect(freshMoved)
            try await harness.drain()
            let done = try await harness.engine.reads.workflow(workflow.id)
            #expect(done.status == .completed)
            #expect(done.context["one"] == ["i": 1])
            #expect(try await harness.stateEntries(workflow.id) == ["one", "two", "three", "done"])
            let failures = try await harness.engine.reads.history(workflow.id).filter { $0.type == .taskFailed }
            #expect(failures.map { $0.data?["error"]?["code"] } == ["lease_expired"])
        }
    }

    static func expectCode(_ code: OrchestratorError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void) async {
        do {
            try await body()
            Issue.record("expected \(code), nothing was thrown", sourceLocation: sourceLocation)
        } catch let error as OrchestratorError {
            #expect(error.code == code, sourceLocation: sourceLocation)
        } catch {
            Issue.record("expected \(code), got \(String(reflecting: error))", sourceLocation: sourceLocation)
        }
    }
}

extension ExecutionTests {
    @Test func resultHoldingNULFailsTheAttemptInsteadOfTheCommit() async throws {
        var registry = TestDatabase.registry()
        registry.register("nul") { _, _ in ["text": "a\u{0}b"] }
        let yaml = """
            type: nulled
            start: call
            states:
              call: {task: nul, next: done, catch: [{errors: [activity.invalid_output], next: bad}]}
              done: {succeed: true}
              bad: {fail: {error: bad_output}}
            """
        try await TestDatabase.withHarness(workflows: [yaml], registry: registry) { harness in
            let workflow = try await harness.start("nulled")
            #expect(try await harness.drain() == 1)
            #expect(try await harness.engine.reads.workflow(workflow.id).error?.code == "bad_output")
        }
    }
}
