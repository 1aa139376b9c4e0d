import Foundation
import Orchestrator

/// The commerce schema's migrations (`Commerce/Migrations`, numbered apart from the engine's).
public enum CommerceSchema {
    public static func migrator() throws -> Migrator {
        guard let folder = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw OrchestratorError(.configuration, "the commerce Migrations folder is missing from the Activities bundle")
        }
        return try Migrator(schema: "commerce", folder: folder)
    }
}
