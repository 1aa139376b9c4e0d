import Foundation
import NIOCore
import NIOSSL
import PostgresNIO

/// Where the database is, parsed from a `postgres://user:password@host:port/database` URL.
///
/// `?sslmode=disable` turns TLS off; `?host=/path/to/socket-dir` connects over a Unix socket.
public struct DatabaseConfiguration: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var unixSocketPath: String?
    public var username: String
    public var password: String?
    public var database: String
    public var useTLS: Bool

    public init(host: String = "127.0.0.1", port: Int = 5432, unixSocketPath: String? = nil, username: String, password: String? = nil, database: String, useTLS: Bool = false) {
        self.host = host
        self.port = port
        self.unixSocketPath = unixSocketPath
        self.username = username
        self.password = password
        self.database = database
        self.useTLS = useTLS
    }

    public init(url text: String) throws(OrchestratorError) {
        guard let components = URLComponents(string: text),
            components.scheme == "postgres" || components.scheme == "postgresql"
        else {
            throw OrchestratorError(.configuration, "DATABASE_URL must look like postgres://user:password@host:port/database")
        }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        let database = String(components.path.drop { $0 == "/" })
        guard let username = components.user, !username.isEmpty else {
            throw OrchestratorError(.configuration, "DATABASE_URL has no user name")
        }
        guard !database.isEmpty else { throw OrchestratorError(.configuration, "DATABASE_URL has no database name") }
        var socketPath: String?
        if let socketDirectory = query["host"], socketDirectory.hasPrefix("/") {
            socketPath = "\(socketDirectory)/.s.PGSQL.\(components.port ?? 5432)"
        }
        self.init(
            host: components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1",
            port: components.port ?? 5432,
            unixSocketPath: socketPath,
            username: username.removingPercentEncoding ?? username,
            password: components.password.map { $0.removingPercentEncoding ?? $0 },
            database: database,
            useTLS: !["disable", ""].contains(query["sslmode"] ?? "disable")
        )
    }

    /// The same server, another database (tests create one per test).
    public func with(database: String) -> DatabaseConfiguration {
        var copy = self
        copy.database = database
        return copy
    }

    public func clientConfiguration(maximumConnections: Int = 20) -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        if let unixSocketPath {
            configuration = .init(unixSocketPath: unixSocketPath, username: username, password: password, database: database)
        } else {
            configuration = .init(host: host, port: port, username: username, password: password, database: database, tls: useTLS ? .require(.makeClientConfiguration()) : .disable)
        }
        configuration.options.maximumConnections = maximumConnections
        configuration.options.minimumConnections = 0
        configuration.options.additionalStartupParameters = Self.sessionSettings
        configuration.options.keepAliveBehavior = .init(frequency: .seconds(15))
        return configuration
    }

    /// Settings every engine session starts with. No statement may hang the engine: statements
    /// and lock waits are cut (a transactional activity sets its own statement timeout); the
    /// server probes idle TCP connections, so a vanished process's session (and its locks) ends
    /// within a minute. Client-side, the pool's keep-alive query probes idle connections.
    static let sessionSettings = [
        ("statement_timeout", "60s"),
        ("lock_timeout", "30s"),
        ("idle_in_transaction_session_timeout", "10min"),
        ("tcp_keepalives_idle", "20"),
        ("tcp_keepalives_interval", "5"),
        ("tcp_keepalives_count", "4"),
    ]

    /// A single connection's settings; `connectTimeout` bounds how long connecting may take.
    public func connectionConfiguration(connectTimeout: Duration? = nil) -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        if let unixSocketPath {
            configuration = .init(unixSocketPath: unixSocketPath, username: username, password: password, database: database)
        } else {
            let tls: PostgresConnection.Configuration.TLS =
                if useTLS, let context = try? NIOSSLContext(configuration: .makeClientConfiguration()) { .require(context) } else { .disable }
            configuration = .init(host: host, port: port, username: username, password: password, database: database, tls: tls)
        }
        configuration.options.additionalStartupParameters = Self.sessionSettings
        if let connectTimeout { configuration.options.connectTimeout = TimeAmount(connectTimeout) }
        return configuration
    }
}
