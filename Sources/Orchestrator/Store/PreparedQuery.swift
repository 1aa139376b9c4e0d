import Logging
import PostgresNIO
import Synchronization

/// Names a hot-path query; its SQL text is the interpolated query's own.
protocol PreparedQuerySite {
    static var name: String { get }
}

/// Runs an interpolated query as a named prepared statement, so PostgreSQL parses and plans it
/// once per connection instead of on every call. The query is still written with interpolation
/// (every value a bind parameter); the site's SQL text is recorded on first use.
struct PreparedQuery<Site: PreparedQuerySite>: PostgresPreparedStatement {
    typealias Row = PostgresRow

    static var name: String { Site.name }
    static var sql: String { PreparedQueryTexts.text(for: Site.name) }

    let binds: PostgresBindings

    init(_ query: PostgresQuery) {
        PreparedQueryTexts.remember(query.sql, for: Site.name)
        binds = query.binds
    }

    func makeBindings() -> PostgresBindings { binds }
    func decodeRow(_ row: PostgresRow) -> PostgresRow { row }
}

/// The SQL text of each prepared site, recorded before its first execution.
enum PreparedQueryTexts {
    private static let texts = Mutex<[String: String]>([:])

    static func remember(_ sql: String, for name: String) {
        texts.withLock { texts in
            if let known = texts[name] {
                assert(known == sql, "prepared query \(name) must always have the same SQL text")
            } else {
                texts[name] = sql
            }
        }
    }

    static func text(for name: String) -> String {
        texts.withLock { $0[name] ?? "" }
    }
}

extension PostgresConnection {
    /// Executes `query` as the prepared statement of `site`.
    func prepared<Site: PreparedQuerySite>(_ site: Site.Type, _ query: PostgresQuery, logger: Logger) async throws -> AsyncThrowingMapSequence<PostgresRowSequence, PostgresRow> {
        try await execute(PreparedQuery<Site>(query), logger: logger)
    }
}

/// The hot path's prepared queries.
enum HotQuery {
    enum ClaimUnlimited: PreparedQuerySite { static let name = "orchestrator_claim_unlimited" }
    enum ClaimLimited: PreparedQuerySite { static let name = "orchestrator_claim_limited" }
    enum LockWorkflows: PreparedQuerySite { static let name = "orchestrator_lock_workflows" }
    enum EndAttempts: PreparedQuerySite { static let name = "orchestrator_end_attempts" }
    enum Save: PreparedQuerySite { static let name = "orchestrator_save" }
    enum InsertWorkflow: PreparedQuerySite { static let name = "orchestrator_insert_workflow" }
    enum ReadWorkflow: PreparedQuerySite { static let name = "orchestrator_read_workflow" }
}
