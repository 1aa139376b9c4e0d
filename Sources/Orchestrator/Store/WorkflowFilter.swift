import Foundation
import PostgresNIO

/// Which instances a workflow list shows; `nil` matches everything. Times bound `created_at`:
/// `createdAfter` inclusive, `createdBefore` exclusive.
public struct WorkflowFilter: Sendable, Hashable {
    public var type: String?
    public var status: WorkflowStatus?
    public var createdAfter: Date?
    public var createdBefore: Date?

    public init(type: String? = nil, status: WorkflowStatus? = nil, createdAfter: Date? = nil, createdBefore: Date? = nil) {
        self.type = type
        self.status = status
        self.createdAfter = createdAfter
        self.createdBefore = createdBefore
    }
}

extension PostgresQuery.StringInterpolation {
    /// The conditions of `filter` over `orchestrator.workflows w`, each only when given (so the
    /// planner sees plain predicates an index can serve), every value a bind parameter.
    mutating func appendInterpolation(matching filter: WorkflowFilter) {
        appendLiteral("TRUE")
        appendCondition("w.type =", filter.type)
        appendCondition("w.status =", filter.status?.rawValue)
        appendCondition("w.created_at >=", filter.createdAfter)
        appendCondition("w.created_at <", filter.createdBefore)
    }

    /// Keyset pagination over `orchestrator.workflows w`, newest first: only rows after the
    /// instance `cursor` names (the last of the previous page).
    mutating func appendInterpolation(after cursor: String?) {
        guard let cursor else { return }
        appendLiteral("AND (w.created_at, w.id) < (SELECT created_at, id FROM orchestrator.workflows WHERE id = ")
        appendInterpolation(cursor)
        appendLiteral(")")
    }
}
