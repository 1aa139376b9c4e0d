import Foundation
import Orchestrator
import Testing

/// The transition function alone: no database, one row per rule.
@Suite struct StateMachineTests {
    static let machine = StateMachine(try! TestDatabase.definition("""
        type: table
        start: route
        states:
          route:
            choice:
              - {path: $.input.kind, equals: express, next: fast}
              - {path: $.input.amount, greater_than: 100, next: review}
              - {path: $.input.coupon, exists: true, next: discount}
            default: standard
          fast: {task: noop, input: {id: $.input.id}, next: done}
          review: {wait_for: approved, timeout: 1h, on_timeout: rejected, next: standard}
          discount: {pass: {percent: 10, code: $.input.coupon}, next: standard}
          standard: {task: noop, next: nap}
          nap: {sleep: 5m, next: done}
          done: {succeed: true, output: {id: $.input.id}}
          rejected: {fail: {error: not_approved, message: nobody approved}}
        """))
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    enum Expected: Sendable, CustomTestStringConvertible {
        case task(String, activity: String)
        case wait(String, signal: String)
        case sleep(String, seconds: Double)
        case completed
        case failed(String)
        var testDescription: String { "\(self)" }
    }

    @Test(arguments: [
        (["kind": "express", "id": 7] as JSONValue, ["route", "fast"], Expected.task("fast", activity: "noop")),
        (["amount": 250] as JSONValue, ["route", "review"], Expected.wait("review", signal: "approved")),
        (["coupon": "X1"] as JSONValue, ["route", "discount", "standard"], Expected.task("standard", activity: "noop")),
        (["amount": 50] as JSONValue, ["route", "standard"], Expected.task("standard", activity: "noop")),
    ])
    func startFollowsChoiceAndPassUntilSomethingMustWait(input: JSONValue, entered: [String], expected: Expected) {
        let transition = Self.machine.start(input: input, now: Self.now)
        #expect(transition.entered == entered)
        Self.check(transition.landing, expected)
    }

    @Test(arguments: [
        ("fast", Expected.completed),
        ("standard", Expected.sleep("nap", seconds: 300)),
    ])
    func taskResultMovesToNext(state: String, expected: Expected) {
        let context: JSONValue = ["input": ["id": 7]]
        let transition = Self.machine.advance(from: state, result: ["ok": true], context: context, now: Self.now)
        #expect(transition.context[state] == ["ok": true])
        Self.check(transition.landing, expected)
    }

    @Test func passWritesItsTemplateUnderTheStateName() {
        let transition = Self.machine.start(input: ["coupon": "X1"], now: Self.now)
        #expect(transition.context["discount"] == ["percent": 10, "code": "X1"])
    }

    @Test func succeedOutputIsItsTemplate() {
        let transition = Self.machine.afterTimer(in: "nap", context: ["input": ["id": 3]], now: Self.now)
        #expect(transition.landing == .completed(output: ["id": 3]))
    }

    @Test func waitTimeoutTakesOnTimeoutPath() {
        let transition = Self.machine.afterTimer(in: "review", context: ["input": [:]], now: Self.now)
        #expect(transition.entered == ["rejected"])
        Self.check(transition.landing, .failed("not_approved"))
    }

    @Test func catchMatchesExactPrefixAndWildcard() {
        let machine = StateMachine(try! TestDatabase.definition("""
            type: catcher
            start: pay
            states:
              pay:
                task: noop
                next: ok
                catch:
                  - {errors: [card_declined], next: declined}
                  - {errors: [http.*], next: remote}
              remote: {fail: {error: remote}}
              declined: {fail: {error: declined}}
              ok: {succeed: true}
            """))
        let context: JSONValue = ["input": [:]]
        #expect(machine.caught(in: "pay", code: "card_declined", message: "no", context: context, now: Self.now)?.entered == ["declined"])
        #expect(machine.caught(in: "pay", code: "http.503", message: "no", context: context, now: Self.now)?.entered == ["remote"])
        #expect(machine.caught(in: "pay", code: "timeout", message: "no", context: context, now: Self.now) == nil)
        let caught = machine.caught(in: "pay", code: "card_declined", message: "nope", context: context, now: Self.now)
        #expect(caught?.context["pay_error"] == ["code": "card_declined", "message": "nope"])
    }

    @Test func retryDelaysGrowExponentiallyUpToTheCap() {
        let policy = RetryPolicy(maxAttempts: 10, initialInterval: .seconds(1), backoffCoefficient: 2, maxInterval: .seconds(5), jitter: .none)
        var generator = SystemRandomNumberGenerator()
        #expect((1...5).map { policy.delay(afterAttempt: $0, using: &generator) } == [.seconds(1), .seconds(2), .seconds(4), .seconds(5), .seconds(5)])
        let full = RetryPolicy(initialInterval: .seconds(4), jitter: .full)
        let equal = RetryPolicy(initialInterval: .seconds(4), jitter: .equal)
        for _ in 0..<100 {
            #expect((Duration.zero ... .seconds(4)).contains(full.delay(afterAttempt: 1, using: &generator)))
            #expect((Duration.seconds(2) ... .seconds(4)).contains(equal.delay(afterAttempt: 1, using: &generator)))
        }
        #expect(!policy.allowsRetry(code: "x", retryable: true, attempt: 10))
        #expect(!RetryPolicy(nonRetryable: [DottedPattern("card_declined")]).allowsRetry(code: "card_declined", retryable: true, attempt: 1))
        #expect(RetryPolicy(nonRetryable: [DottedPattern("card.*")]).allowsRetry(code: "card_declined", retryable: true, attempt: 1))
    }

    static func check(_ landing: StateMachine.Landing, _ expected: Expected, sourceLocation: SourceLocation = #_sourceLocation) {
        switch (landing, expected) {
        case (.task(let state, let spec, _), .task(let expectedState, let activity)):
            #expect(state == expectedState && spec.activity == activity, sourceLocation: sourceLocation)
        case (.wait(let state, let signals, _), .wait(let expectedState, let expectedSignal)):
            #expect(state == expectedState && signals == [expectedSignal], sourceLocation: sourceLocation)
        case (.sleep(let state, let until), .sleep(let expectedState, let seconds)):
            #expect(state == expectedState && until == now.addingTimeInterval(seconds), sourceLocation: sourceLocation)
        case (.completed, .completed):
            break
        case (.failed(let failure), .failed(let code)):
            #expect(failure.code == code, sourceLocation: sourceLocation)
        default:
            Issue.record("landed on \(landing), expected \(expected)", sourceLocation: sourceLocation)
        }
    }
}
