import Foundation

/// At most `maxRunning` tasks whose activity matches `pattern` run at once, across all workers.
/// Limits live in the database (`activity_limits`): any process may set them, every one enforces them.
public struct ActivityLimit: Sendable, Hashable {
    public var pattern: DottedPattern
    public var maxRunning: Int

    public init(pattern: String, maxRunning: Int) {
        self.pattern = DottedPattern(pattern)
        self.maxRunning = maxRunning
    }

    /// The activity an exact pattern names (`http`); `nil` for a prefix pattern.
    var exactActivity: String? { pattern.prefix == nil ? pattern.pattern : nil }

    /// What the activities of a prefix pattern start with (`payments.` for `payments.*`, empty for `*`).
    var activityPrefix: String? { pattern.prefix }

    /// Parses `payments.*=4,http=16`.
    public static func parseList(_ text: String) throws(OrchestratorError) -> [ActivityLimit] {
        try text.split(separator: ",").map { item throws(OrchestratorError) in
            let parts = item.split(separator: "=")
            guard parts.count == 2, let count = Int(parts[1].trimmingCharacters(in: .whitespaces)), count > 0 else {
                throw OrchestratorError(.configuration, "activity limit '\(item)' must look like pattern=count with count > 0")
            }
            let pattern = parts[0].trimmingCharacters(in: .whitespaces)
            guard !pattern.isEmpty else { throw OrchestratorError(.configuration, "activity limit '\(item)' has no pattern") }
            return ActivityLimit(pattern: pattern, maxRunning: count)
        }
    }
}
