import Orchestrator

/// Returns its input: the unit of the benchmark workloads and a placeholder step while sketching.
public struct NoopActivity: Activity {
    public static let name = "noop"
    public init() {}
    public func run(_ input: JSONValue, context: ActivityContext) async throws -> JSONValue { input }
}
