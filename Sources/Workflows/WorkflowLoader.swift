import Foundation
import Orchestrator
import Yams

/// Loads `workflows.d/*.yaml` into validated, versioned definitions, collecting every error.
///
/// A file with any error loads nothing, and a directory with any bad file loads nothing: the
/// server refuses to start rather than run half a state machine.
public struct WorkflowLoader: Sendable {
    /// Activity names a `task` may use.
    public var knownActivities: Set<String>

    public init(knownActivities: Set<String>) {
        self.knownActivities = knownActivities
    }

    /// Loads every `.yaml`/`.yml` file of `directory`.
    public func loadDirectory(_ directory: String) throws(ValidationFailure) -> [WorkflowDefinition] {
        let url = URL(fileURLWithPath: directory)
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        } catch {
            throw ValidationFailure(errors: [WorkflowFileError(file: directory, message: "cannot read the workflows folder: \(error.localizedDescription)")])
        }
        var definitions: [WorkflowDefinition] = []
        var errors: [WorkflowFileError] = []
        var seen: [String: String] = [:]
        for name in names {
            let fileURL = url.appendingPathComponent(name)
            guard let text = try? String(contentsOf: fileURL, encoding: .utf8) else {
                errors.append(WorkflowFileError(file: name, message: "cannot read the file as UTF-8"))
                continue
            }
            switch load(yaml: text, file: name) {
            case .success(let definition):
                if let other = seen[definition.type] {
                    errors.append(WorkflowFileError(file: name, field: "type", message: "type '\(definition.type)' is already defined in \(other)"))
                }
                seen[definition.type] = name
                definitions.append(definition)
            case .failure(let failure):
                errors += failure.errors
            }
        }
        // A workflow may start only types the folder defines.
        for definition in definitions {
            for (state, spec) in definition.states.sorted(by: { $0.key < $1.key }) {
                if case .startWorkflow(let start) = spec.kind, seen[start.type] == nil {
                    errors.append(WorkflowFileError(file: seen[definition.type] ?? definition.type, state: state, field: "start_workflow.type", message: "unknown workflow type '\(start.type)'"))
                }
            }
        }
        guard errors.isEmpty else { throw ValidationFailure(errors: errors) }
        return definitions
    }

    /// Parses and validates one file's text.
    /// Workflow files are small; a larger one is refused before it is parsed.
    public static let maximumFileBytes = 256 * 1024

    public func load(yaml: String, file: String) -> Result<WorkflowDefinition, ValidationFailure> {
        func refused(_ message: String) -> Result<WorkflowDefinition, ValidationFailure> {
            .failure(ValidationFailure(errors: [WorkflowFileError(file: file, message: message)]))
        }
        guard yaml.utf8.count <= Self.maximumFileBytes else { return refused("the file is larger than \(Self.maximumFileBytes / 1024) KiB") }
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            // Yams quotes the text around the error: keep the message short whatever the file holds.
            let message = String(describing: error)
            return refused("invalid YAML: \(message.count > 300 ? message.prefix(300) + "…" : message)")
        }
        guard let root else { return refused("the file is empty") }
        // An alias repeats a whole subtree: nine levels of nine make 387 million nodes from 600 bytes.
        var budget = Self.maximumNodes
        if Self.exceedsNodes(root, budget: &budget) {
            return refused("the file expands to more than \(Self.maximumNodes) YAML nodes (aliases repeat whole subtrees: write the repeated parts out)")
        }
        var parser = DefinitionParser(reader: NodeReader(file: file), knownActivities: knownActivities)
        let parsed = parser.parse(root, fileType: Self.typeName(of: file))
        var errors = parser.reader.errors
        if let parsed {
            errors += DefinitionChecks(definition: parsed, file: file, knownActivities: knownActivities).run()
        }
        guard errors.isEmpty, var definition = parsed else {
            return .failure(ValidationFailure(errors: errors))
        }
        do {
            definition.version = try definition.computedVersion()
        } catch {
            return .failure(ValidationFailure(errors: [WorkflowFileError(file: file, message: "cannot normalize: \(error)")]))
        }
        return .success(definition)
    }

    /// More nodes than any workflow file needs: what aliases expand to is bounded by this.
    static let maximumNodes = 50_000

    /// Whether the composed document has more than `budget` nodes. Yams expands aliases, so a few
    /// hundred bytes can stand for billions of nodes; the count stops as soon as it passes the budget.
    static func exceedsNodes(_ node: Node, budget: inout Int) -> Bool {
        budget -= 1
        guard budget >= 0 else { return true }
        switch node {
        case .scalar, .alias:
            return false
        case .sequence(let sequence):
            return sequence.contains { exceedsNodes($0, budget: &budget) }
        case .mapping(let mapping):
            return mapping.contains { exceedsNodes($0.key, budget: &budget) || exceedsNodes($0.value, budget: &budget) }
        }
    }

    static func typeName(of file: String) -> String {
        var name = (file as NSString).lastPathComponent
        for suffix in [".yaml", ".yml"] where name.hasSuffix(suffix) { name.removeLast(suffix.count) }
        return name
    }
}
