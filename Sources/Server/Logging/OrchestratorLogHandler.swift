import Foundation
import Logging
import Orchestrator

/// How log lines are written: `text` for people (`2026-11-26T03:02:30Z info orchestrator: key=value message`),
/// `json` for a log pipeline (one object per line).
enum LogFormat: String, Sendable, CaseIterable {
    case text, json
}

/// Writes log lines to standard error in `format`, every message and metadata value redacted
/// (`LogRedaction`): no e-mail address, phone number, card number or key reaches the log.
struct OrchestratorLogHandler: LogHandler {
    let label: String
    let format: LogFormat
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let (level, message, source) = (event.level, event.message, event.source)
        var fields = metadata
        if let explicit = event.metadata { fields.merge(explicit) { $1 } }
        if let error = event.error { fields[LogKey.error] = "\(error)" }
        let time = Date().formatted(Self.timestamp)
        let text: String
        switch format {
        case .text:
            let pairs = fields.sorted { $0.key < $1.key }.map { "\($0.key)=\(LogRedaction.redact("\($0.value)"))" }.joined(separator: " ")
            text = "\(time) \(level) \(label):\(pairs.isEmpty ? "" : " \(pairs)") \(LogRedaction.redact(message.description))"
        case .json:
            var object: [String: JSONValue] = fields.mapValues { .string(LogRedaction.redact("\($0)")) }
            object["timestamp"] = .string(time)
            object["level"] = .string(level.rawValue)
            object["logger"] = .string(label)
            object["message"] = .string(LogRedaction.redact(message.description))
            object["source"] = .string(source)
            text = JSONValue.object(object).jsonText
        }
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    static let timestamp = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
}
