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
    public func load(yaml: String, file: String) -> Result<WorkflowDefinition, ValidationFailure> {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            return .failure(ValidationFailure(errors: [WorkflowFileError(file: file, message: "invalid YAML: \(error)")]))
        }
        guard let root else {
            return .failure(ValidationFailure(errors: [WorkflowFileError(file: file, message: "the file is empty")]))
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

    static func typeName(of file: String) -> String {
        var name = (file as NSString).lastPathComponent
        for suffix in [".yaml", ".yml"] where name.hasSuffix(suffix) { name.removeLast(suffix.count) }
        return name
    }
}
