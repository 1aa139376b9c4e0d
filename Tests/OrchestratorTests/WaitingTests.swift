import Foundation
import Orchestrator
import PostgresNIO
import Testing

/// Signals, durable timers, fan-out and cancellation.
@Suite struct WaitingTests {
    static let approval = """
        type: approval
        start: prepare
        states:
          prepare: {task: noop, next: wait}
          wait: {wait_for: approved, timeout: 1h, on_timeout: expired, next: done}
          done: {succeed: true, output: $.wait}
          expired: {fail: {error: approval_expired}}
        """

    static let decision = """
        type: decision
        start: prepare
        states:
          prepare: {task: noop, next: wait}
          wait: {wait_for: [approve, reject], until: $.input.decide_by, on_timeout: expired, next: route}
          route:
            choice:
              - {path: $.wait.signal, equals: approve, next: approved}
            default: rejected
          approved: {succeed: true, output: $.wait}
          rejected: {fail: {error: rejected}}
          expired: {fail: {error: expired}}
        """

    static let nap = """
        type: nap
        start: rest
        states:
          rest: {sleep: 10m, next: after}
          after: {task: noop, next: done}
          done: {succeed: true}
        """

    static let fanout = """
        type: fanout
        start: each
        states:
          each:
            map: {items: $.input.items, task: script, input: {item: $.item, fail_item: $.input.fail_item}, max_concurrency: 2}
            next: done
            catch: [{errors: [item_failed], next: partial}]
          done: {succeed: true, output: $.each}
          partial: {fail: {error: partial_failure}}
        """

    static let compensating = """
        type: compensating
        start: reserve
        on_cancel: release
        states:
          reserve: {task: noop, next: wait}
          wait: {wait_for: paid, next: done}
          done: {succeed: true}
          release: {task: noop, next: released}
          released: {succeed: true}
        """

    @Test func signalSentBeforeTheWaitIsBufferedThenConsumed() async throws {
        try await TestDatabase.withHarness(workflows: [Self.approval]) { harness in
            let workflow = try await harness.start("approval")
            #expect(try await harness.engine.lifecycle.signal(workflowID: workflow.id, name: "approved", payload: ["by": "early"], idempotencyKey: "s1") == .buffered)
            try await harness.drain()
            let done = try await harness.engine.reads.workflow(workflow.id)
            #expect(done.status == .completed)
            #expect(done.output == ["by": "early"])
        }
    }

    @Test func signalSentDuringTheWaitResumesAndDuplicatesAreIgnored() async throws {
        try await TestDatabase.withHarness(workflows: [Self.approval]) { harness in
            let workflow = try await harness.start("approval")
            try await harness.drain()
            let waiting = try await harness.engine.reads.workflow(workflow.id)
            #expect(waiting.status == .waiting)
            #expect(waiting.state == "wait")
            #expect(try await harness.engine.lifecycle.signal(workflowID: workflow.id, name: "approved", payload: ["by": "ops"], idempotencyKey: "s1") == .consumed)
            #expect(try await harness.engine.reads.workflow(workflow.id).status == .completed)
            await ExecutionTests.expectCode(.workflowNotActive) {
                _ = try await harness.engine.lifecycle.signal(workflowID: workflow.id, name: "approved", payload: [:], idempotencyKey: "s2")
            }
            // The wait's timeout timer was cancelled with the signal: nothing fires later.
            harness.clock.advance(by: .seconds(7200))
            #expect(try await harness.drain() == 0)
            await ExecutionTests.expectCode(.workflowNotFound) {
                _ = try await harness.engine.lifecycle.signal(workflowID: "missing", name: "approved")
            }
        }
    }

    @Test func waitForSeveralSignalsTakesTheFirstAndSaysWhichArrived() async throws {
        try await TestDatabase.withHarness(workflows: [Self.decision]) { harness in
            let input: JSONValue = ["decide_by": "2030-01-01T00:00:00Z"]
            let waiting = try await harness.start("decision", input: input)
            try await harness.drain()
            #expect(try await harness.engine.lifecycle.signal(workflowID: waiting.id, name: "approve", payload: ["by": "ops"]) == .consumed)
            let approved = try await harness.engine.reads.workflow(waiting.id)
            #expect(approved.status == .completed)
            #expect(approved.output == ["signal": "approve", "payload": ["by": "ops"]])

            // Signals buffered before the wait is entered: the oldest of the names it waits for is taken.
            let early = try await harness.start("decision", input: input)
            #expect(try await harness.engine.lifecycle.signal(workflowID: early.id, name: "reject", payload: ["why": "late"]) == .buffered)
            #expect(try await harness.engine.lifecycle.signal(workflowID: early.id, name: "approve", payload: [:]) == .buffered)
            try await harness.drain()
            let rejected = try await harness.engine.reads.workflow(early.id)
            #expect(rejected.error?.code == "rejected")
            #expect(rejected.context["wait"] == ["signal": "reject", "payload": ["why": "late"]])
        }
    }

    @Test func waitUntilATimestampOfTheContextTimesOutThenAndRefusesAMalformedOne() async throws {
        try await TestDatabase.withHarness(workflows: [Self.decision]) { harness in
            let decideBy = ISO8601DateFormatter().string(from: harness.clock.now().addingTimeInterval(90))
            let workflow = try await harness.start("decision", input: ["decide_by": .string(decideBy)])
            try await harness.drain()
            harness.clock.advance(by: .seconds(89))
            #expect(try await harness.drain() == 0)
            harness.clock.advance(by: .seconds(1))
            #expect(try await harness.drain() == 1)
            #expect(try await harness.engine.reads.workflow(workflow.id).error?.code == "expired")

            let malformed = try await harness.start("decision", input: ["decide_by": "next tuesday"])
            try await harness.drain()
            #expect(try await harness.engine.reads.workflow(malformed.id).error?.code == "wait_for.invalid_timestamp")
        }
    }

    @Test func duplicateSignalKeyDeliversOnce() async throws {
        try await TestDatabase.withHarness(workflows: [Self.approval]) { harness in
            let workflow = try await harness.start("approval")
            #expect(try await harness.engine.lifecycle.signal(workflowID: workflow.id, name: "approved", payload: ["n": 1], idempotencyKey: "k") == .buffered)
            #expect(try await harness.engine.lifecycle.signal(workflowID: workflow.id, name: "approved", payload: ["n": 2], idempotencyKey: "k") == .duplicate)
            let stored = try await harness.query("SELECT count(*) FROM orchestrator.signals", as: Int64.self)
            #expect(stored == [1])
        }
    }

    @Test func waitTimesOutOnTheDurableTimer() async throws {
        try await TestDatabase.withHarness(workflows: [Self.approval]) { harness in
            let workflow = try await harness.start("approval")
            try await harness.drain()
            harness.clock.advance(by: .seconds(3599))
            #expect(try await harness.drain() == 0)
            harness.clock.advance(by: .seconds(1))
            #expect(try await harness.drain() == 1)
            let expired = try await harness.engine.reads.workflow(workflow.id)
            #expect(expired.status == .failed)
            #expect(expired.error?.code == "approval_expired")
            #expect(try await harness.engine.reads.history(workflow.id).contains { $0.type == .timerFired })
        }
    }

    @Test func sleepFiresOnlyWhenDue() async throws {
        try await TestDatabase.withHarness(workflows: [Self.nap]) { harness in
            let workflow = try await harness.start("nap")
            #expect(try await harness.engine.reads.workflow(workflow.id).status == .waiting)
            #expect(try await harness.drain() == 0)
            harness.clock.advance(by: .seconds(600))
            #expect(try await harness.drain() == 2)  // the timer, then the task after it
            #expect(try await harness.engine.reads.workflow(workflow.id).status == .completed)
        }
    }

    @Test func mapRunsOneTaskPerItemWithinItsConcurrencyAndKeepsOrder() async throws {
        try await TestDatabase.withHarness(workflows: [Self.fanout]) { harness in
            let workflow = try await harness.start("fanout", input: ["items": [10, 20, 30, 40, 50]])
            let scheduled = try await harness.query("SELECT count(*) FROM orchestrator.tasks WHERE status = 'ready'", as: Int64.self)
            #expect(scheduled == [2])
            try await harness.drain()
            let done = try await harness.engine.reads.workflow(workflow.id)
            #expect(done.status == .completed)
            let items = try #require(done.output?.arrayValue)
            #expect(items.map { $0["echo"]?["item"] } == [10, 20, 30, 40, 50])
        }
    }

    @Test func mapItemFailureIsCaughtAndCancelsItsSiblings() async throws {
        try await TestDatabase.withHarness(workflows: [Self.fanout]) { harness in
            let workflow = try await harness.start("fanout", input: ["items": [0, 1, 2, 3], "fail_item": 1])
            try await harness.drain()
            let failed = try await harness.engine.reads.workflow(workflow.id)
            #expect(failed.status == .failed)
            #expect(failed.error?.code == "partial_failure")
            #expect(failed.context["each_error"]?["code"] == "item_failed")
            let open = try await harness.query(
                "SELECT count(*) FROM orchestrator.tasks WHERE status IN ('ready', 'running', 'failed')", as: Int64.self)
            #expect(open == [0])
        }
    }

    @Test func emptyMapMovesOnWithAnEmptyList() async throws {
        try await TestDatabase.withHarness(workflows: [Self.fanout]) { harness in
            let workflow = try await harness.start("fanout", input: ["items": []])
            let done = try await harness.engine.reads.workflow(workflow.id)
            #expect(done.status == .completed)
            #expect(done.output == [])
        }
    }

    @Test func cancelRunsTheCompensationAndEndsCancelled() async throws {
        try await TestDatabase.withHarness(workflows: [Self.compensating]) { harness in
            let workflow = try await harness.start("compensating")
            try await harness.drain()
            #expect(try await harness.engine.reads.workflow(workflow.id).status == .waiting)
            let cancelling = try await harness.engine.lifecycle.cancel(workflowID: workflow.id, reason: "customer left")
            #expect(cancelling.state == "release")
            try await harness.drain()
            let cancelled = try await harness.engine.reads.workflow(workflow.id)
            #expect(cancelled.status == .cancelled)
            #expect(try await harness.stateEntries(workflow.id) == ["reserve", "wait", "release", "released"])
            #expect(try await harness.engine.reads.history(workflow.id).last?.type == .workflowCancelled)
            // Cancelling again is a no-op that answers the same instance.
            #expect(try await harness.engine.lifecycle.cancel(workflowID: workflow.id).status == .cancelled)
        }
    }

    @Test func cancelWithoutCompensationStopsQueuedTasks() async throws {
        try await TestDatabase.withHarness(workflows: [ExecutionTests.chain]) { harness in
            let workflow = try await harness.start("chain", input: ["i": 1])
            let cancelled = try await harness.engine.lifecycle.cancel(workflowID: workflow.id)
            #expect(cancelled.status == .cancelled)
            #expect(try await harness.drain() == 0)
        }
    }
}
