import PostgresNIO
import Synchronization

/// The current definition of each type, plus every pinned version an instance may still run on
/// (loaded from the `definitions` table on first use).
final class DefinitionCatalog: Sendable {
    private struct Key: Hashable {
        var type: String
        var version: String
    }

    private let current = Mutex<[String: WorkflowDefinition]>([:])
    private let pinned = Mutex<[Key: WorkflowDefinition]>([:])

    func install(_ definitions: [WorkflowDefinition]) {
        current.withLock { current in
            for definition in definitions { current[definition.type] = definition }
        }
        pinned.withLock { pinned in
            for definition in definitions { pinned[Key(type: definition.type, version: definition.version)] = definition }
        }
    }

    func current(_ type: String) -> WorkflowDefinition? {
        current.withLock { $0[type] }
    }

    var all: [WorkflowDefinition] {
        current.withLock { Array($0.values) }
    }

    func definition(type: String, version: String, store: WorkflowStore, on connection: PostgresConnection) async throws -> WorkflowDefinition {
        let key = Key(type: type, version: version)
        if let cached = pinned.withLock({ $0[key] }) { return cached }
        guard let loaded = try await store.loadDefinition(type: type, version: version, on: connection) else {
            throw OrchestratorError(.definitionMissing, "definition \(type) version \(version) is not in the database")
        }
        pinned.withLock { $0[key] = loaded }
        return loaded
    }
}
