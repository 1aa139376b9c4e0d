/// What one client may hold of the HTTP server: connections, time, and requests per second.
struct EdgeLimits: Sendable {
    /// A connection with no request in flight (or a request head still arriving) is closed after this.
    var idleTimeout: Duration = .seconds(30)
    /// A request's body must have arrived within this of its head, or the connection is closed.
    var bodyTimeout: Duration = .seconds(30)
    /// Connections open at once; more wait in the listen backlog until one closes.
    var maxConnections = 1_000
    /// Requests per second per API key, by route class; a class without a rate is not limited.
    var rates = RateLimiter.defaultRates
}
