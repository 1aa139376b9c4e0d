import Foundation
import PostgresNIO

extension WorkflowStore {
    /// What became of a signal `insertSignal` was asked to store.
    enum SignalInsert: Sendable, Hashable {
        case stored
        /// One with the same idempotency key was stored before.
        case duplicate
        /// The instance already holds `bufferLimit` signals it has not consumed.
        case bufferFull
    }

    /// Stores a signal, unless the instance already buffers `bufferLimit` unconsumed ones
    /// (`bufferLimit` nil: the caller consumes it at once, so it is never buffered).
    func insertSignal(
        workflowID: String, name: String, payload: JSONValue, idempotencyKey: String?, bufferLimit: Int?, now: Date, on connection: PostgresConnection
    ) async throws -> SignalInsert {
        let rows = try await connection.query(
            """
            INSERT INTO orchestrator.signals (workflow_id, name, payload, idempotency_key, created_at)
            SELECT \(workflowID), \(name), \(payload.jsonText)::jsonb, \(idempotencyKey), \(now)
            WHERE \(bufferLimit)::int8 IS NULL
               OR (SELECT count(*) FROM orchestrator.signals WHERE workflow_id = \(workflowID) AND consumed_at IS NULL) < \(bufferLimit)
            ON CONFLICT (workflow_id, name, idempotency_key) DO NOTHING
            RETURNING id
            """, logger: logger)
        for try await _ in rows { return .stored }
        // Nothing stored: a repeat (an idempotency key seen before) is answered as such even when full.
        if let idempotencyKey, try await signalExists(workflowID: workflowID, name: name, idempotencyKey: idempotencyKey, on: connection) {
            return .duplicate
        }
        return .bufferFull
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
