import Foundation
import Logging
import PostgresNIO

/// Applies the numbered SQL files of a folder to one schema, in order, each once (recorded in
/// `<schema>.schema_migrations`), under an advisory lock so several processes starting together
/// against one database are safe. The engine's are `Migrator()`; the commerce schema has its own.
public struct Migrator: Sendable {
    public struct Migration: Sendable, Hashable {
        public let version: Int
        public let name: String
        public let sql: String

        /// The file's statements: each ends with `;` at the end of a line (no procedural bodies).
        var statements: [String] {
            sql.components(separatedBy: ";\n").map { chunk in
                chunk.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("--") }.joined(separator: "\n")
            }.filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
        }
    }

    /// Arbitrary constant identifying Orchestrator's migration lock.
    static let advisoryLockKey: Int64 = 0x6F72_6368_6D69_67
    public let schema: String
    public let migrations: [Migration]

    /// The engine's migrations (schema `orchestrator`).
    public init() throws {
        guard let folder = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw OrchestratorError(.configuration, "the Migrations folder is missing from the Orchestrator bundle")
        }
        try self.init(schema: "orchestrator", folder: folder)
    }

    /// The numbered `.sql` files of `folder`, for `schema` (a plain lowercase identifier).
    public init(schema: String, folder: URL) throws {
        guard !schema.isEmpty, schema.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }) else {
            throw OrchestratorError(.configuration, "'\(schema)' is not a plain schema name")
        }
        self.schema = schema
        let files = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "sql" }
        migrations = try files.map { file in
            let name = file.deletingPathExtension().lastPathComponent
            guard let version = Int(name.prefix { $0.isNumber }) else {
                throw OrchestratorError(.configuration, "migration \(file.lastPathComponent) has no number")
            }
            return Migration(version: version, name: name, sql: try String(contentsOf: file, encoding: .utf8))
        }.sorted { $0.version < $1.version }
    }

    /// Only `migrations` (tests migrate a database to an older version with this).
    init(schema: String = "orchestrator", migrations: [Migration]) {
        self.schema = schema
        self.migrations = migrations
    }

    public var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Applies what is pending; returns the names applied.
    @discardableResult
    public func migrate(client: PostgresClient, logger: Logger) async throws -> [String] {
        try await client.withConnection { connection in
            // Building an index on a large table may take long, and waiting for the lock too.
            try await connection.query("SELECT set_config('statement_timeout', '0', false), set_config('lock_timeout', '0', false)", logger: logger)
            try await connection.query("SELECT pg_advisory_lock(\(Self.advisoryLockKey))", logger: logger)
            do {
                let applied = try await apply(on: connection, logger: logger)
                try await connection.query("SELECT pg_advisory_unlock(\(Self.advisoryLockKey))", logger: logger)
                try await connection.query("RESET ALL", logger: logger)
                return applied
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.advisoryLockKey))", logger: logger)
                _ = try? await connection.query("RESET ALL", logger: logger)
                throw error
            }
        }
    }

    private func apply(on connection: PostgresConnection, logger: Logger) async throws -> [String] {
        try await connection.query(
            """
            CREATE SCHEMA IF NOT EXISTS \(unescaped: schema)
            """, logger: logger)
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS \(unescaped: schema).schema_migrations (
                version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
            """, logger: logger)
        let current = try await currentVersion(on: connection, logger: logger)
        var applied: [String] = []
        for migration in migrations where migration.version > current {
            logger.info("applying migration", metadata: ["migration": "\(schema)/\(migration.name)"])
            try await connection.query("BEGIN", logger: logger)
            do {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO \(unescaped: schema).schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))",
                    logger: logger)
                try await connection.query("COMMIT", logger: logger)
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw OrchestratorError(.database, "migration \(schema)/\(migration.name) failed: \(String(reflecting: error))")
            }
            applied.append("\(schema)/\(migration.name)")
        }
        return applied
    }

    /// The highest applied migration, 0 on an empty database.
    private func currentVersion(on connection: PostgresConnection, logger: Logger) async throws -> Int {
        let exists = try await connection.query(
            "SELECT to_regclass(\(schema + ".schema_migrations")) IS NOT NULL", logger: logger)
        for try await found in exists.decode(Bool.self) where !found { return 0 }
        let rows = try await connection.query(
            "SELECT coalesce(max(version), 0)::int8 FROM \(unescaped: schema).schema_migrations", logger: logger)
        for try await version in rows.decode(Int64.self) { return Int(version) }
        return 0
    }
}
