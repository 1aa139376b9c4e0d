import Foundation
import Orchestrator
import PostgresNIO
import Testing

/// `start_workflow` (wait for a child's end, or not) and `send_signal` (to another workflow).
@Suite struct ChildWorkflowTests {
    static let child = """
        type: child
        start: route
        states:
          route:
            choice:
              - {path: $.input.fail, exists: true, next: broken}
            default: work
          work: {task: noop, input: {n: $.input.n}, next: done}
          done: {succeed: true, output: {doubled: $.input.n, by: child}}
          broken: {fail: {error: child_broke, message: the child was told to fail}}
        """

    static let parent = """
        type: parent
        start: spawn
        states:
          spawn:
            start_workflow: {type: child, input: {n: $.input.n, fail: $.input.fail}}
            result: $.child
            next: done
            catch: [{errors: [child_broke], next: handled}]
          done: {succeed: true, output: $.child}
          handled: {succeed: true, output: {handled: $.spawn_error.code}}
        """

    static let launcher = """
        type: launcher
        start: spawn
        states:
          spawn:
            start_workflow: {type: child, input: {n: 1}, id: $.input.child_id, wait: false}
            next: done
          done: {succeed: true, output: $.spawn}
        """

    static let sleeper = """
        type: sleeper
        start: wait
        states:
          wait: {wait_for: go, next: done}
          done: {succeed: true, output: $.wait}
        """

    static let sender = """
        type: sender
        start: send
        states:
          send:
            send_signal: {workflow: $.input.target, name: go, payload: {from: sender, n: $.input.n}}
            next: done
            catch: [{errors: [workflow.not_found], next: nobody}]
          done: {succeed: true, output: $.send}
          nobody: {fail: {error: nobody_there}}
        """

    static let fanout = """
        type: fanout
        start: spawn
        states:
          spawn:
            start_workflow: {type: child, for_each: $.input.numbers, input: {n: $.item}, wait: false}
            next: done
          done: {succeed: true, output: $.spawn}
        """

    static let all = [child, parent, launcher, sleeper, sender, fanout]

    @Test func aChildWaitedForGivesItsOutputAsTheStateResult() async throws {
        try await TestDatabase.withHarness(workflows: Self.all) { harness in
            let parent = try await harness.start("parent", input: ["n": 21])
            #expect(parent.status == .waiting)
            try await harness.drain()
            let done = try await harness.engine.reads.workflow(parent.id)
            #expect(done.status == .completed)
            #expect(done.output == ["doubled": 21, "by": "child"])
            let child = try await harness.engine.reads.workflow("\(parent.id):spawn:1")
            #expect(child.status == .completed)
            let events = try await harness.engine.reads.history(parent.id).map(\.type)
            #expect(events.contains(.childStarted) && events.contains(.childEnded))
        }
    }

    @Test func aFailedChildsErrorCodeReachesTheParentsCatchOrFailsTheParent() async throws {
        try await TestDatabase.withHarness(workflows: Self.all) { harness in
            let caught = try await harness.start("parent", input: ["n": 1, "fail": true])
            try await harness.drain()
            let handled = try await harness.engine.reads.workflow(caught.id)
            #expect(handled.status == .completed)
            #expect(handled.output == ["handled": "child_broke"])

            // A cancelled child is `workflow.cancelled`, which no rule catches here: the parent fails with it.
            let waiting = try await harness.start("parent", input: ["n": 2])
            _ = try await harness.engine.lifecycle.cancel(workflowID: "\(waiting.id):spawn:1")
            try await harness.drain()
            let failed = try await harness.engine.reads.workflow(waiting.id)
            #expect(failed.status == .failed)
            #expect(failed.error?.code == "workflow.cancelled")
        }
    }

    @Test func aChildStartedWithoutWaitingRunsOnItsOwnAndItsIDIsTheResult() async throws {
        try await TestDatabase.withHarness(workflows: Self.all) { harness in
            let launcher = try await harness.start("launcher", input: ["child_id": "kid-1"])
            #expect(launcher.status == .completed)
            #expect(launcher.output == ["workflow_id": "kid-1"])
            #expect(try await harness.engine.reads.workflow("kid-1").status == .running)
            try await harness.drain()
            #expect(try await harness.engine.reads.workflow("kid-1").status == .completed)
            // Its end is nobody's business: no delivery is queued for the launcher.
            let deliveries = try await harness.query("SELECT count(*) FROM orchestrator.tasks WHERE kind = 'child_result'", as: Int64.self)
            #expect(deliveries == [0])
        }
    }

    @Test func forEachStartsOneChildPerItemWithItsStarter() async throws {
        try await TestDatabase.withHarness(workflows: Self.all) { harness in
            let started = try await harness.engine.lifecycle.start(StartRequest(type: "fanout", input: ["numbers": [3, 4]], id: "f", startedBy: "alice"))
            #expect(started.workflow.output == ["workflow_ids": ["f:spawn:1:0", "f:spawn:1:1"]])
            try await harness.drain()
            #expect(try await harness.engine.reads.workflow("f:spawn:1:1").output == ["doubled": 4, "by": "child"])
            #expect(try await harness.engine.reads.workflow("f:spawn:1:0").context["started_by"] == "alice")
        }
    }

    @Test func aChildThatEndsInItsParentsOwnTransitionStillReports() async throws {
        let instant = """
            type: instant
            start: done
            states:
              done: {succeed: true, output: {at_once: true}}
            """
        let waiter = """
            type: waiter
            start: spawn
            states:
              spawn: {start_workflow: {type: instant}, next: done}
              done: {succeed: true, output: $.spawn}
            """
        try await TestDatabase.withHarness(workflows: [instant, waiter]) { harness in
            let parent = try await harness.start("waiter")
            #expect(parent.status == .waiting)
            try await harness.drain()
            #expect(try await harness.engine.reads.workflow(parent.id).output == ["at_once": true])
        }
    }

    @Test func sendSignalDeliversThroughTheTargetsQueueOnceAndAMissingTargetIsCatchable() async throws {
        try await TestDatabase.withHarness(workflows: Self.all) { harness in
            let sleeper = try await harness.start("sleeper", id: "sleepy")
            let sender = try await harness.start("sender", input: ["target": "sleepy", "n": 7])
            #expect(sender.status == .completed)
            #expect(sender.output == ["workflow_id": "sleepy", "signal": "go"])
            try await harness.drain()
            let woken = try await harness.engine.reads.workflow(sleeper.id)
            #expect(woken.status == .completed)
            #expect(woken.output == ["from": "sender", "n": 7])

            let nobody = try await harness.start("sender", input: ["target": "no-such-workflow", "n": 1])
            #expect(nobody.status == .failed)
            #expect(nobody.error?.code == "nobody_there")
        }
    }
}
