extension JSONValue {
    /// This value with `patch` applied as a JSON Merge Patch (RFC 7396): an object patch sets its
    /// fields, recursively, and removes those it sets to `null`; any other patch replaces the value.
    public func merging(patch: JSONValue) -> JSONValue {
        guard case .object(let changes) = patch else { return patch }
        var fields: [String: JSONValue] = [:]
        if case .object(let existing) = self { fields = existing }
        for (key, change) in changes {
            if change == .null {
                fields.removeValue(forKey: key)
            } else {
                fields[key] = (fields[key] ?? .null).merging(patch: change)
            }
        }
        return .object(fields)
    }
}
