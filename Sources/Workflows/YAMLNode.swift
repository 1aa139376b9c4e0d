import Orchestrator
import Yams

/// Reading helpers over a Yams node that report problems instead of throwing, so one pass
/// collects every error of a file.
struct NodeReader {
    let file: String
    var errors: [WorkflowFileError] = []

    mutating func fail(_ node: Node?, state: String?, field: String?, _ message: String) {
        errors.append(WorkflowFileError(file: file, line: node?.mark?.line, state: state, field: field, message: message))
    }

    /// The mapping's entries by key, reporting keys outside `allowed`.
    mutating func mapping(_ node: Node, state: String?, field: String?, allowed: Set<String>) -> [String: Node]? {
        guard let mapping = node.mapping else {
            fail(node, state: state, field: field, "must be a mapping")
            return nil
        }
        var entries: [String: Node] = [:]
        for (key, value) in mapping {
            guard let name = key.string else {
                fail(key, state: state, field: field, "keys must be strings")
                continue
            }
            if !allowed.contains(name) {
                let known = allowed.sorted().joined(separator: ", ")
                fail(key, state: state, field: name, "unknown field (expected one of: \(known))")
                continue
            }
            entries[name] = value
        }
        return entries
    }

    mutating func string(_ node: Node?, state: String?, field: String) -> String? {
        guard let node else { return nil }
        guard let scalar = node.scalar, node.tagName == .str || node.tagName == .int || node.tagName == .float else {
            fail(node, state: state, field: field, "must be a string")
            return nil
        }
        return scalar.string
    }

    mutating func int(_ node: Node?, state: String?, field: String, minimum: Int) -> Int? {
        guard let node else { return nil }
        guard let value = node.int, value >= minimum else {
            fail(node, state: state, field: field, "must be a whole number of at least \(minimum)")
            return nil
        }
        return value
    }

    mutating func double(_ node: Node?, state: String?, field: String, minimum: Double) -> Double? {
        guard let node else { return nil }
        guard let value = node.float, value >= minimum else {
            fail(node, state: state, field: field, "must be a number of at least \(minimum)")
            return nil
        }
        return value
    }

    mutating func duration(_ node: Node?, state: String?, field: String) -> Duration? {
        guard let node else { return nil }
        guard let text = node.string, let duration = Duration(text: text), duration > .zero else {
            fail(node, state: state, field: field, "bad duration '\(node.string ?? "?")' (write e.g. 250ms, 10s, 5m, 2h, 7d)")
            return nil
        }
        return duration
    }

    mutating func path(_ node: Node?, state: String?, field: String) -> JSONPath? {
        guard let node else { return nil }
        guard let text = node.string else {
            fail(node, state: state, field: field, "must be a path like $.input.items")
            return nil
        }
        do {
            return try JSONPath(parsing: text)
        } catch {
            fail(node, state: state, field: field, "bad path: \(error.message)")
            return nil
        }
    }

    mutating func stringList(_ node: Node?, state: String?, field: String) -> [String]? {
        guard let node else { return nil }
        if node.scalar != nil { return string(node, state: state, field: field).map { [$0] } }
        guard let sequence = node.sequence else {
            fail(node, state: state, field: field, "must be a list of strings")
            return nil
        }
        return sequence.compactMap { string($0, state: state, field: field) }
    }

    /// A template: string leaves starting with `$` are paths, everything else literal JSON.
    mutating func template(_ node: Node, state: String?, field: String) -> ValueTemplate {
        if let mapping = node.mapping {
            var fields: [String: ValueTemplate] = [:]
            for (key, value) in mapping {
                guard let name = key.string else { continue }
                fields[name] = template(value, state: state, field: field)
            }
            return .object(fields)
        }
        if let sequence = node.sequence {
            return .array(sequence.map { template($0, state: state, field: field) })
        }
        if node.tagName == .str, let text = node.string, text.hasPrefix("$") {
            return path(node, state: state, field: field).map(ValueTemplate.path) ?? .literal(.null)
        }
        return .literal(json(node))
    }

    /// A YAML node as plain JSON (no paths).
    func json(_ node: Node) -> JSONValue {
        if let mapping = node.mapping {
            var fields: [String: JSONValue] = [:]
            for (key, value) in mapping { if let name = key.string { fields[name] = json(value) } }
            return .object(fields)
        }
        if let sequence = node.sequence { return .array(sequence.map(json)) }
        switch node.tagName {
        case .null: return .null
        case .bool: return node.bool.map(JSONValue.bool) ?? .null
        case .int: return node.int.map { .number(Double($0)) } ?? .null
        case .float: return node.float.map(JSONValue.number) ?? .null
        default: return .string(node.string ?? "")
        }
    }
}

extension Node {
    /// The resolved tag (`str`, `int`, `bool`, ...) of this node.
    var tagName: Tag.Name { Tag.Name(rawValue: tag.rawValue) }
}
