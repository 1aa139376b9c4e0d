import Foundation
@testable import Orchestrator
import PostgresNIO
import Testing

/// Migrations keep what is stored usable: instances finish on the definition version they started with.
@Suite struct MigrationTests {
    /// Request hashes and definition versions are stored: the text of a hash is lowercase hex of
    /// SHA-256, as every release wrote it (FIPS 180-2's "abc" vector, a byte below 0x10 included).
    @Test func hashesAreTheLowercaseHexEveryReleaseStored() {
        #expect(Engine.hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Engine.hash("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func anInstanceWaitingOnADefinitionStoredInTheOldWaitForFormResumesAfterMigrating() async throws {
        let database = try await TestDatabase.create()
        let logger = TestDatabase.logger
        try await database.withPool(maximumConnections: 4, logger: logger) { pool in
            let client = pool.client
            let all = try Migrator()
            try await Migrator(migrations: all.migrations.filter { $0.version <= 4 }).migrate(client: client, logger: logger)

            // The JSON the engine wrote before `wait_for` took several signals and a timestamp.
            var definition = try JSONValue(encoding: try TestDatabase.definition(WaitingTests.approval))
            JSONPath(segments: [.key("version")]).write("old", into: &definition)
            JSONPath(segments: [.key("states"), .key("wait"), .key("kind"), .key("waitFor")]).write(
                ["signal": "approved", "timeout": try JSONValue(encoding: Duration.seconds(3600)), "onTimeout": "expired"], into: &definition)
            try await client.query(
                "INSERT INTO orchestrator.definitions (type, version, definition) VALUES ('approval', 'old', \(definition.jsonText)::jsonb)",
                logger: logger)
            try await client.query(
                """
                INSERT INTO orchestrator.workflows (id, type, version, status, state, input, context, request_hash, waiting_for, visit, created_at, updated_at)
                VALUES ('w', 'approval', 'old', 'waiting', 'wait', '{}', '{"input": {}}', 'h', 'approved', 2, now(), now())
                """, logger: logger)

            try await all.migrate(client: client, logger: logger)
            let engine = Engine(pool: pool, logger: logger)
            #expect(try await engine.lifecycle.signal(workflowID: "w", name: "approved", payload: ["by": "ops"]) == .consumed)
            let resumed = try await engine.reads.workflow("w")
            #expect(resumed.status == .completed)
            #expect(resumed.output == ["by": "ops"])
            let stored = try await client.query(
                "SELECT (definition->'states'->'wait'->'kind')::text FROM orchestrator.definitions WHERE version = 'old'", logger: logger)
            for try await text in stored.decode(String.self) {
                let kind = try JSONValue(json: text)
                let expected: JSONValue = ["waitFor": ["signals": ["approved"], "onTimeout": "expired",
                                                       "timeout": ["duration": ["_0": try JSONValue(encoding: Duration.seconds(3600))]]]]
                #expect(kind == expected)
            }
        }
    }
}
