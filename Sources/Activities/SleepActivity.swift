import Orchestrator

/// Waits `{duration: "2s"}` inside the attempt (not a durable timer: use a `sleep` state for that).
public struct SleepActivity: Activity {
    public static let name = "sleep"
    public struct Input: Decodable, Sendable {
        public var duration: String
    }

    public init() {}

    public func run(_ input: Input, context: ActivityContext) async throws -> JSONValue {
        guard let duration = Duration(text: input.duration) else {
            throw ActivityError.nonRetryable("activity.invalid_input", "bad duration '\(input.duration)'")
        }
        try await Task.sleep(for: duration)
        return ["slept": .string(duration.text)]
    }
}
