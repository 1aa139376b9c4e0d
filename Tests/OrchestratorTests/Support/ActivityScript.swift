import Dispatch
import Orchestrator
import Synchronization

/// A test activity whose behaviour per call is scripted: `{"fail": "code", "times": 2}` fails the
/// first two attempts of each task; `{"fail": "code"}` always fails; `{"fail_item": 1}` fails for that item;
/// `{"fail_codes": {"1": "code"}}` fails item 1 with that non-retryable code.
final class ActivityScript: Sendable {
    private let calls = Mutex<[String: Int]>([:])

    func run(_ input: JSONValue, context: ActivityContext) async throws -> JSONValue {
        let count = calls.withLock { calls -> Int in
            calls[context.idempotencyKey, default: 0] += 1
            return calls[context.idempotencyKey]!
        }
        if let code = input["fail"]?.stringValue {
            let times = input["times"]?.numberValue.map(Int.init) ?? Int.max
            let retryable = input["retryable"] != .bool(false)
            if count <= times {
                throw ActivityError(code: code, message: "scripted failure \(count)", retryable: retryable)
            }
        }
        if let item = input["item"]?.numberValue, let code = input["fail_codes"]?["\(Int(item))"]?.stringValue {
            throw ActivityError.nonRetryable(code, "item \(Int(item)) failed with \(code)")
        }
        if let item = input["fail_item"]?.numberValue, input["item"]?.numberValue == item {
            throw ActivityError.nonRetryable("item_failed", "item \(Int(item)) failed")
        }
        return ["echo": input, "attempt": .number(Double(context.attempt))]
    }

    func callCount(_ key: String) -> Int { calls.withLock { $0[key] ?? 0 } }
    var totalCalls: Int { calls.withLock { $0.values.reduce(0, +) } }
}

/// Waits `duration` and cannot be cancelled, without holding a thread: an activity that ignores
/// its cancellation (tests must not block the few threads of the cooperative pool).
func waitIgnoringCancellation(_ duration: Duration) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int(duration / .milliseconds(1)))) { continuation.resume() }
    }
}
