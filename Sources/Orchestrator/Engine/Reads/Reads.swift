import Foundation
import PostgresNIO

/// What clients and ops read: an instance, its pinned definition, its history, lists, the
/// dashboard (`Reads+Dashboard.swift`).
public struct Reads: EnginePart {
    let core: EngineCore

    public func workflow(_ id: String) async throws -> WorkflowRecord {
        try await client.withConnection { try await existingWorkflow(id, on: $0) }
    }

    /// The definition an instance runs on: the version it was started with.
    public func pinnedDefinition(of workflowID: String) async throws -> WorkflowDefinition {
        try await client.withConnection { connection in
            let workflow = try await existingWorkflow(workflowID, on: connection)
            return try await catalog.definition(type: workflow.type, version: workflow.version, store: store, on: connection)
        }
    }

    public func history(_ workflowID: String) async throws -> [EventRecord] {
        try await client.withConnection { try await store.history(workflowID, on: $0) }
    }

    /// A page of an instance's history: at most `limit` events after event `seq`; `more` when
    /// another page follows.
    public func history(_ workflowID: String, after seq: Int?, limit: Int) async throws -> (events: [EventRecord], more: Bool) {
        try await client.withConnection { try await store.history(workflowID, after: seq, limit: limit, on: $0) }
    }

    /// The histories of several instances at once, each event with its instance's id and type.
    public func histories(_ workflowIDs: [String]) async throws -> [(workflowID: String, workflowType: String, event: EventRecord)] {
        try await client.withConnection { try await store.histories(workflowIDs, on: $0) }
    }

    /// A page of instances, newest first: at most `limit`, and only as many as fit in `maxBytes` of
    /// input, context and output (always one), so one client's large workflows cannot make every
    /// list page huge. `more`: another page follows the last record.
    public func workflows(
        _ filter: WorkflowFilter = WorkflowFilter(), limit: Int = 50, maxBytes: Int = 4 << 20, after cursor: String? = nil
    ) async throws -> (records: [WorkflowRecord], more: Bool) {
        try await client.withConnection {
            try await store.listWorkflows(filter, limit: limit, maxBytes: maxBytes, after: cursor, on: $0)
        }
    }
}
