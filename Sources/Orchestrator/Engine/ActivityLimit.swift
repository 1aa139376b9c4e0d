/// At most `maxRunning` tasks whose activity matches `pattern` run at once, across all workers.
public struct ActivityLimit: Sendable, Hashable {
    public var pattern: DottedPattern
    public var maxRunning: Int

    public init(pattern: String, maxRunning: Int) {
        self.pattern = DottedPattern(pattern)
        self.maxRunning = maxRunning
    }

    /// Parses `payments.*=4,http=16`.
    public static func parseList(_ text: String) throws(OrchestratorError) -> [ActivityLimit] {
        try text.split(separator: ",").map { item throws(OrchestratorError) in
            let parts = item.split(separator: "=")
            guard parts.count == 2, let count = Int(parts[1].trimmingCharacters(in: .whitespaces)), count > 0 else {
                throw OrchestratorError(.configuration, "activity limit '\(item)' must look like pattern=count with count > 0")
            }
            return ActivityLimit(pattern: parts[0].trimmingCharacters(in: .whitespaces), maxRunning: count)
        }
    }
}

import Foundation
