import Foundation
import Orchestrator

#if canImport(Glibc)
import Glibc
#endif

/// What `serve` prints once its listener is up: where it serves, on which database, and in
/// development (generated keys) next steps that work as pasted into a shell.
struct ServeBanner: Sendable {
    var host: String
    /// The bound port (the listener's, when the configured one is 0).
    var port: Int
    var database: String
    var workflowTypes: [String]
    var workflowsFolder: String
    /// The generated development keys and where they are kept; `nil` when keys were configured.
    var devKeys: (keyring: APIKeyring, file: String)?
    /// How to call this executable: `orchestrator` when that is on the PATH, else its path.
    var commandLine: String

    /// The address clients use: the listen address, or loopback when it listens on every address.
    var baseURL: String {
        let reachable = ["0.0.0.0", "::", ""].contains(host) ? "127.0.0.1" : host.contains(":") ? "[\(host)]" : host
        return "http://\(reachable):\(port)"
    }

    /// The shipped example the next steps drive: it runs two tasks, then waits for a signal.
    static let sampleType = "order_fulfillment"
    static let sampleID = "first-order"
    static let sampleInput: JSONValue = ["order_id": "A-1001", "lines": [["sku": "tea", "quantity": 2]]]

    var text: String {
        let workflowTypes = workflowTypes.sorted()
        var lines = [
            "", "Orchestrator is serving on \(baseURL)",
            "  database:  \(database)",
            "  workflows: \(workflowTypes.joined(separator: ", ")) (from \(workflowsFolder))",
        ]
        guard let devKeys else {
            lines += [
                "  API keys:  from the configuration; every request needs Authorization: Bearer <key>",
                "  ops CLI:   \(commandLine) workflows list, \(commandLine) dead-letters list, \(commandLine) --help",
                "  console:   \(baseURL)/ui (sign in with an ops or monitor key)", "",
            ]
            return lines.joined(separator: "\n")
        }
        let header = { (role: Role) in devKeys.keyring.keys.first { $0.role == role }.map { "'Authorization: Bearer \($0.secret)'" } ?? "''" }
        lines += [
            "  API keys:  generated for development, kept in \(devKeys.file) (set ORCHESTRATOR_API_KEYS in production)",
            "",
            "Next steps, to paste as they are. First the keys, as request headers for curl:",
            "  export CLIENT=\(header(.client)) OPS=\(header(.ops)) MONITOR=\(header(.monitor))",
        ]
        let workflow = "\(baseURL)/v1/workflows/\(Self.sampleID)"
        if workflowTypes.contains(Self.sampleType) {
            let start: JSONValue = ["type": .string(Self.sampleType), "id": .string(Self.sampleID), "input": Self.sampleInput]
            lines += [
                "Start an \(Self.sampleType): it checks the order, ships each line, then waits a day for the signal delivery_confirmed:",
                "  curl -s -X POST \(baseURL)/v1/workflows -H \"$CLIENT\" -d '\(start.jsonText)'",
                "See it; once its lines are shipped, \"waiting\" says what it waits for and until when:",
                "  curl -s \(workflow) -H \"$CLIENT\"",
                "Send the signal; its data goes under \"payload\". The workflow completes with it as output:",
                "  curl -s -X POST \(workflow)/signals/delivery_confirmed -H \"$CLIENT\" -d '{\"payload\": {\"carrier\": \"ups\"}}'",
                "Its history, event by event:",
                "  curl -s \(workflow)/history -H \"$CLIENT\"",
            ]
        } else {
            lines += [
                "Start a workflow (its input is a JSON object):",
                "  curl -s -X POST \(baseURL)/v1/workflows -H \"$CLIENT\" -d '{\"type\": \"\(workflowTypes.first ?? "<type>")\", \"input\": {}}'",
            ]
        }
        lines += [
            "The dashboard (late tasks, dead letters, queues, workers), with the monitor key:",
            "  curl -s \(baseURL)/v1/dashboard -H \"$MONITOR\"",
            "The web console, in a browser (sign in with the ops or the monitor key): \(baseURL)/ui",
            "The ops CLI, from any folder (it finds this server's database):",
            "  \(commandLine) workflows list",
            "  \(commandLine) dead-letters list",
            "More: README.md (\"Try it\": the shop's workflows) and docs/README.md.",
            "",
        ]
        return lines.joined(separator: "\n")
    }

    /// `orchestrator` when the first `orchestrator` on the PATH is this executable, else this
    /// executable's path.
    static func commandLine(environment: [String: String]) -> String {
        guard let own = realPath("/proc/self/exe") else { return "orchestrator" }
        for folder in (environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(folder)/orchestrator"
            guard FileManager.default.isExecutableFile(atPath: candidate) else { continue }
            return realPath(candidate) == own ? "orchestrator" : own
        }
        return own
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
