import Foundation
@testable import Orchestrator
import PostgresNIO
import Testing

/// One schedule's trouble never blocks another, and no process consumes a fire it cannot start.
@Suite struct SchedulerTests {
    static let minutely = """
        type: minutely
        start: tick
        schedule: {cron: "* * * * *"}
        states:
          tick: {task: noop, next: done}
          done: {succeed: true}
        """

    @Test func aConflictingIDSkipsThatFireWithoutBlockingOtherSchedules() async throws {
        try await TestDatabase.withHarness(workflows: [OperationsTests.nightly, Self.minutely]) { harness in
            // The clock starts at 2027-01-15 08:00 UTC; nightly's first fire is 02:00 the next day.
            // Clients may not take a schedule's id; a row from before that rule still may hold one.
            let taken = StartRequest(type: "nightly", input: ["by": "hand"], id: "nightly@2027-01-16T02:00:00Z")
            await ExecutionTests.expectCode(.invalidInput) { _ = try await harness.engine.lifecycle.start(taken) }
            _ = try await harness.engine.transaction { try await harness.engine.lifecycle.start(taken, on: $0) }
            harness.clock.advance(by: .seconds(18 * 3600 + 30))
            let started = try await harness.engine.lifecycle.fireDueSchedules()
            #expect(started.map(\.type) == ["minutely"])
            let next = try await harness.query("SELECT next_fire_at FROM orchestrator.schedules WHERE workflow_type = 'nightly'", as: Date.self)
            #expect(next == [Date(timeIntervalSince1970: 1_800_000_000 + 18 * 3600 + 24 * 3600)])
            #expect(try await harness.engine.lifecycle.fireDueSchedules().isEmpty)
        }
    }

    @Test func aProcessThatDoesNotKnowATypeLeavesItsFireToOneThatDoes() async throws {
        try await TestDatabase.withHarness(workflows: [OperationsTests.nightly, Self.minutely]) { harness in
            let partial = Engine(pool: harness.pool, clock: harness.clock, logger: harness.logger)
            try await partial.install([try TestDatabase.definition(Self.minutely)])
            harness.clock.advance(by: .seconds(18 * 3600 + 30))
            #expect(try await partial.lifecycle.fireDueSchedules().map(\.type) == ["minutely"])
            #expect(try await harness.engine.lifecycle.fireDueSchedules().map(\.type) == ["nightly"])
        }
    }
}
