/// The checks every value from outside passes before the engine stores it.
enum InputCheck {
    /// Refuses a value nested deeper than the engine stores (`StoredValueLimits.inputDepth`).
    static func depth(of value: JSONValue, named name: String) throws {
        guard value.nestingDepth <= StoredValueLimits.inputDepth else {
            throw OrchestratorError(.inputTooDeep, "\(name) may nest at most \(StoredValueLimits.inputDepth) levels deep")
        }
    }

    /// Refuses an empty name, one longer than `StoredValueLimits.identifierBytes` in UTF-8, or one
    /// holding control characters (which no URL or log line shows faithfully).
    static func identifier(_ text: String, named name: String) throws {
        guard (1...StoredValueLimits.identifierBytes).contains(text.utf8.count) else {
            throw OrchestratorError(.invalidInput, "\(name) must have 1 to \(StoredValueLimits.identifierBytes) bytes in UTF-8")
        }
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw OrchestratorError(.invalidInput, "\(name) may not contain control characters")
        }
    }
}
