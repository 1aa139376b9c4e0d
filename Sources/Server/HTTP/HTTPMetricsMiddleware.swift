import Hummingbird
import Metrics

/// Counts requests and times them by route template (never an id) and status.
struct HTTPMetricsMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let response = try await next(request, context)
        let route = context.endpointPath ?? "unmatched"
        let dimensions = [("route", route), ("method", request.method.rawValue), ("status", String(response.status.code))]
        Counter(label: "orchestrator_http_requests_total", dimensions: dimensions).increment()
        let elapsed = ContinuousClock.now - started
        Timer(label: "orchestrator_http_request_duration_seconds", dimensions: [("route", route), ("method", request.method.rawValue)])
            .recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        return response
    }
}
