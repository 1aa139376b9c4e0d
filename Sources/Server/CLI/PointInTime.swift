import ArgumentParser
import Foundation
import Orchestrator

/// A time on the command line: an RFC 3339 time (`2026-11-26T10:00:00Z`) or how long ago
/// (`90m`, `2h`, `1d`), so "what arrived in the last hour" is `--created-after 1h`.
struct PointInTime: ExpressibleByArgument, Sendable {
    let date: Date

    init?(argument: String) {
        if let date = Representation.date(argument) {
            self.date = date
        } else if let ago = Duration(text: argument), ago > .zero {
            self.date = Date().addingTimeInterval(-ago.seconds)
        } else {
            return nil
        }
    }
}
