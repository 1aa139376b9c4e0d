import ArgumentParser
import Foundation
import Orchestrator

/// Settings of the HTTP server's edge: timeouts, connections and rate limits.
struct EdgeOptions: ParsableArguments {
    @Option(help: "Close a connection idle (or sending a request head) this long, e.g. 30s (env ORCHESTRATOR_HTTP_IDLE_TIMEOUT).")
    var httpIdleTimeout: String?

    @Option(help: "Close a connection whose request body has not arrived this long after its head, e.g. 30s (env ORCHESTRATOR_HTTP_BODY_TIMEOUT).")
    var httpBodyTimeout: String?

    @Option(help: "Connections served at once; more wait until one closes (env ORCHESTRATOR_MAX_CONNECTIONS; default 1000).")
    var maxConnections: Int?

    @Option(help: "Requests per second per API key, by route class (start, write, read), e.g. 'start=50/s:100,read=200/s', or 'off' (env ORCHESTRATOR_RATE_LIMITS; default start=200/s:400,write=200/s:400,read=500/s:1000).")
    var rateLimits: String?

    func limits(environment: [String: String]) throws -> EdgeLimits {
        var limits = EdgeLimits()
        limits.idleTimeout = try EngineOptions.duration(
            httpIdleTimeout ?? environment["ORCHESTRATOR_HTTP_IDLE_TIMEOUT"], named: "http-idle-timeout", default: limits.idleTimeout)
        limits.bodyTimeout = try EngineOptions.duration(
            httpBodyTimeout ?? environment["ORCHESTRATOR_HTTP_BODY_TIMEOUT"], named: "http-body-timeout", default: limits.bodyTimeout)
        limits.maxConnections = try EngineOptions.count(
            maxConnections, environment["ORCHESTRATOR_MAX_CONNECTIONS"], named: "max-connections", default: limits.maxConnections)
        if let text = rateLimits ?? environment["ORCHESTRATOR_RATE_LIMITS"] {
            do { limits.rates = try RateLimiter.parse(text) } catch { throw ValidationError("\(error)") }
        }
        return limits
    }
}
