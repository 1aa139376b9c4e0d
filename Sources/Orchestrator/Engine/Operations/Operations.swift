import Foundation
import PostgresNIO

/// What ops act on: dead letters (`Operations+DeadLetters.swift`), activity limits
/// (`Operations+ActivityLimits.swift`), and the housekeeping that keeps storage bounded.
public struct Operations: EnginePart {
    let core: EngineCore

    /// Forgets workers not heard from for `after` (default a day): their rows go, so the workers
    /// table does not grow with every process ever started. Returns how many.
    @discardableResult
    public func forgetSilentWorkers(after: Duration = .seconds(86_400)) async throws -> Int {
        let since = clock.now().addingTimeInterval(-after.seconds)
        return try await client.withConnection { try await store.forgetWorkers(silentSince: since, on: $0) }
    }

    /// Deletes finished instances older than their retention (the configured one, or their type's
    /// `retention`) with their history: batches of `batch`, each its own short transaction, so no
    /// lock is held for long; at most `maxBatches` per call. Returns how many instances went.
    @discardableResult
    public func pruneFinishedWorkflows(batch: Int = 500, maxBatches: Int = 20) async throws -> Int {
        let now = clock.now()
        let defaultCutoff = now.addingTimeInterval(-configuration.retention.seconds)
        let cutoffs = Dictionary(catalog.all.compactMap { definition in
            definition.retention.map { (definition.type, now.addingTimeInterval(-$0.seconds)) }
        }, uniquingKeysWith: { first, _ in first })
        var pruned = 0
        for _ in 0..<maxBatches {
            let deleted = try await transaction { connection in
                try await store.pruneFinishedWorkflows(defaultCutoff: defaultCutoff, cutoffs: cutoffs, limit: batch, on: connection)
            }
            pruned += deleted
            if deleted < batch { break }
        }
        if pruned > 0 { logger.info("finished workflows past their retention deleted", metadata: ["workflows": "\(pruned)"]) }
        return pruned
    }
}
