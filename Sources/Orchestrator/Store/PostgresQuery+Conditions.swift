import PostgresNIO

extension PostgresQuery.StringInterpolation {
    /// ` AND <left> <value>` when `value` is given (the value a bind parameter), nothing otherwise:
    /// filters build plain predicates the planner can match to an index.
    mutating func appendCondition<Value: PostgresDynamicTypeEncodable>(_ left: String, _ value: Value?) {
        guard let value else { return }
        appendLiteral(" AND \(left) ")
        appendInterpolation(value)
    }
}
