/// One problem in a workflow file, located by file, line, state and field.
public struct WorkflowFileError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var state: String?
    public var field: String?
    public var message: String

    public init(file: String, line: Int? = nil, state: String? = nil, field: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.state = state
        self.field = field
        self.message = message
    }

    public var description: String {
        var location = file
        if let line { location += ":\(line)" }
        var subject: [String] = []
        if let state { subject.append("state '\(state)'") }
        if let field { subject.append("field '\(field)'") }
        return subject.isEmpty ? "\(location): \(message)" : "\(location): \(subject.joined(separator: ", ")): \(message)"
    }
}

/// Every problem found while loading a set of workflow files; nothing of them was loaded.
public struct ValidationFailure: Error, Sendable, CustomStringConvertible {
    public var errors: [WorkflowFileError]
    public var description: String {
        "\(errors.count) error(s) in workflow files:\n" + errors.map { "  \($0)" }.joined(separator: "\n")
    }
}
