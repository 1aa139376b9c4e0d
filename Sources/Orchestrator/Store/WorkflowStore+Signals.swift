import Foundation
import PostgresNIO

extension WorkflowStore {
    /// Stores a signal; `nil` when one with the same idempotency key was already stored.
    func insertSignal(workflowID: String, name: String, payload: JSONValue, idempotencyKey: String?, now: Date, on connection: PostgresConnection) async throws -> Int64? {
        let rows = try await connection.query(
            """
            INSERT INTO orchestrator.signals (workflow_id, name, payload, idempotency_key, created_at)
            VALUES (\(workflowID), \(name), \(payload.jsonText)::jsonb, \(idempotencyKey), \(now))
            ON CONFLICT (workflow_id, name, idempotency_key) DO NOTHING
            RETURNING id
            """, logger: logger)
        for try await id in rows.decode(Int64.self) { return id }
        return nil
    }

    /// Signals of an instance received and not yet consumed.
    func bufferedSignalCount(workflowID: String, on connection: PostgresConnection) async throws -> Int {
        let rows = try await connection.query(
            "SELECT count(*) FROM orchestrator.signals WHERE workflow_id = \(workflowID) AND consumed_at IS NULL", logger: logger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }

    func signalExists(workflowID: String, name: String, idempotencyKey: String, on connection: PostgresConnection) async throws -> Bool {
        let rows = try await connection.query(
            """
            SELECT 1 FROM orchestrator.signals
            WHERE workflow_id = \(workflowID) AND name = \(name) AND idempotency_key = \(idempotencyKey)
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// Marks the oldest unconsumed signal of any of `names` consumed and returns its name and payload.
    func consumeSignal(workflowID: String, names: [String], now: Date, on connection: PostgresConnection) async throws -> (name: String, payload: JSONValue)? {
        let rows = try await connection.query(
            """
            UPDATE orchestrator.signals SET consumed_at = \(now)
            WHERE id = (SELECT id FROM orchestrator.signals
                        WHERE workflow_id = \(workflowID) AND name = ANY(\(names)::text[]) AND consumed_at IS NULL
                        ORDER BY id LIMIT 1 FOR UPDATE)
            RETURNING name, payload::text
            """, logger: logger)
        for try await (name, payload) in rows.decode((String, String).self) { return (name, try JSONValue(json: payload)) }
        return nil
    }
}
