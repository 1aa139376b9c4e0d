import Foundation
@testable import Orchestrator
import PostgresNIO
import Testing

/// "Why is this task late?", answered from the database.
@Suite struct TaskDelayTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func facts(_ status: TaskStatus, kind: String = "activity", runAt: Date = now.addingTimeInterval(-120)) -> TaskFacts {
        TaskFacts(
            taskID: 1, kind: kind, activity: "payments.capture", status: status, runAt: runAt, startedAt: nil, timeoutSeconds: 30,
            leaseOwner: nil, ownerSilentSeconds: nil, lastError: nil, liveWorkers: 2, liveWorkersForActivity: 2, limit: nil, olderDueTasks: 0)
    }

    @Test func theFirstCauseThatAppliesIsTheAnswer() {
        var due = Self.facts(.ready)
        #expect(TaskDelayCause.decide(due, now: Self.now) == .queuedBehind(olderTasks: 0))
        due.olderDueTasks = 40
        #expect(TaskDelayCause.decide(due, now: Self.now) == .queuedBehind(olderTasks: 40))
        due.limit = .init(pattern: "payments.*", maxRunning: 4, running: 4)
        #expect(TaskDelayCause.decide(due, now: Self.now) == .atActivityLimit(pattern: "payments.*", running: 4, maxRunning: 4))
        due.liveWorkersForActivity = 0
        #expect(TaskDelayCause.decide(due, now: Self.now) == .noLiveWorker(activity: "payments.capture", anyLiveWorker: true))
        due.liveWorkers = 0
        #expect(TaskDelayCause.decide(due, now: Self.now).message == "no worker is live: start `orchestrator serve` or `orchestrator worker`")

        let later = Self.now.addingTimeInterval(90)
        var retrying = Self.facts(.failed, runAt: later)
        retrying.lastError = AttemptError(attempt: 2, code: "http.503", message: "the gateway answered 503", at: Self.now)
        let cause = TaskDelayCause.decide(retrying, now: Self.now)
        #expect(cause == .waitingForRetry(until: later, lastError: retrying.lastError))
        #expect(cause.message.hasSuffix("after http.503: the gateway answered 503"))
        #expect(TaskDelayCause.decide(Self.facts(.ready, kind: "timer", runAt: later), now: Self.now) == .timerNotDue(until: later))
        // Engine tasks (timers, deliveries) run on any live worker, whatever its activities.
        var timer = Self.facts(.ready, kind: "timer")
        timer.liveWorkersForActivity = 0
        #expect(TaskDelayCause.decide(timer, now: Self.now) == .queuedBehind(olderTasks: 0))

        var running = Self.facts(.running)
        running.leaseOwner = "worker-a"
        running.startedAt = Self.now.addingTimeInterval(-45)
        running.ownerSilentSeconds = 3
        #expect(TaskDelayCause.decide(running, now: Self.now) == .runningPastTimeout(worker: "worker-a", runningForSeconds: 45, timeoutSeconds: 30))
        running.ownerSilentSeconds = 75
        #expect(TaskDelayCause.decide(running, now: Self.now) == .leaseHeldBySilentWorker(worker: "worker-a", silentForSeconds: 75))
        #expect(TaskDelayCause.decide(Self.facts(.completed), now: Self.now) == .notWaiting(.completed))
    }

    static let capture = """
        type: capture
        start: capture
        states:
          capture: {task: noop, next: done}
          done: {succeed: true}
        """

    @Test func lateTasksSayWhyFromWhatTheDatabaseKnows() async throws {
        try await TestDatabase.withHarness(workflows: [Self.capture]) { harness in
            _ = try await harness.start("capture")
            _ = try await harness.start("capture")
            harness.clock.advance(by: .seconds(120))
            func causes() async throws -> [String] {
                try await harness.engine.reads.dashboard(lateAfter: .seconds(60)).lateTasks.compactMap { $0.cause?.code }
            }
            // Nobody runs anything.
            #expect(try await causes() == ["no_live_worker", "no_live_worker"])
            // A live worker that does not run `noop`.
            try await harness.client.withConnection { connection in
                try await harness.engine.store.heartbeat(
                    workerID: "worker-other", host: "h", pid: 1, concurrency: 4, activities: ["http"], now: harness.clock.now(), on: connection)
            }
            let late = try await harness.engine.reads.dashboard(lateAfter: .seconds(60)).lateTasks
            #expect(late.map { $0.cause?.message } == ["no live worker runs the activity noop", "no live worker runs the activity noop"])
            // One that does: then the limit, then the queue.
            try await harness.client.withConnection { connection in
                try await harness.engine.store.heartbeat(
                    workerID: "worker-noop", host: "h", pid: 2, concurrency: 4, activities: ["noop"], now: harness.clock.now(), on: connection)
            }
            try await harness.engine.operations.setActivityLimits([ActivityLimit(pattern: "noop", maxRunning: 1)])
            let claimed = try await harness.engine.queue.claim(owner: "worker-noop", limit: 1)
            #expect(claimed.count == 1)
            let waiting = try #require(try await harness.query(
                "SELECT id FROM orchestrator.tasks WHERE status = 'ready' AND id <> \(claimed[0].id)", as: Int64.self).first)
            #expect(try await harness.engine.reads.delay(ofTask: waiting).cause == .atActivityLimit(pattern: "noop", running: 1, maxRunning: 1))
            try await harness.engine.operations.setActivityLimits([ActivityLimit(pattern: "noop", maxRunning: 5)])
            #expect(try await harness.engine.reads.delay(ofTask: waiting).cause == .queuedBehind(olderTasks: 0))
            let (facts, running) = try await harness.engine.reads.delay(ofTask: claimed[0].id)
            #expect(facts.leaseOwner == "worker-noop")
            guard case .running(let worker, _) = running else {
                Issue.record("a task running on a live worker within its timeout: \(running)")
                return
            }
            #expect(worker == "worker-noop")
            // The worker falls silent.
            harness.clock.advance(by: .seconds(40))
            #expect(try await harness.engine.reads.delay(ofTask: claimed[0].id).cause == .leaseHeldBySilentWorker(worker: "worker-noop", silentForSeconds: 40))
            await ExecutionTests.expectCode(.taskNotFound) { _ = try await harness.engine.reads.delay(ofTask: 987_654) }
        }
    }
}
