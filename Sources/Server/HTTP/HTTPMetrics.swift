import Metrics

/// The HTTP server's metric names, in one place (the engine's are in `EngineMetrics`).
enum HTTPMetrics {
    /// One answered request, by route template (never an id), method and status.
    static func request(route: String, method: String, status: Int, duration: Duration) {
        Counter(label: "orchestrator_http_requests_total", dimensions: [("route", route), ("method", method), ("status", String(status))]).increment()
        Timer(label: "orchestrator_http_request_duration_seconds", dimensions: [("route", route), ("method", method)]).record(duration: duration)
    }

    /// A request refused with 429 by the key's rate limit.
    static func rateLimited(key: String, routeClass: String) {
        Counter(label: "orchestrator_http_rate_limited_total", dimensions: [("key", key), ("class", routeClass)]).increment()
    }
}
