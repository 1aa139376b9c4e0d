import Hummingbird
import Logging
import Orchestrator

/// Counts, times and logs every request, by route template (never an id), method and status.
/// The log line is at `info` with the duration and the correlation id, never a key, a query string
/// or a body; probes and scrapes (`/healthz`, `/readyz`, `/metrics`) are logged at `debug`, so a
/// scraped server's log stays readable.
struct RequestTelemetryMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext

    static let quietPaths: Set<String> = ["/healthz", "/readyz", "/metrics"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let response = try await next(request, context)
        let duration = ContinuousClock.now - started
        let route = context.endpointPath ?? "unmatched"
        HTTPMetrics.request(route: route, method: request.method.rawValue, status: Int(response.status.code), duration: duration)
        let milliseconds = duration / .milliseconds(1)
        context.logger.log(
            level: Self.quietPaths.contains(route) ? .debug : .info, "request",
            metadata: [
                LogKey.httpMethod: "\(request.method.rawValue)", LogKey.httpRoute: "\(route)",
                LogKey.httpStatus: "\(response.status.code)", LogKey.durationMilliseconds: "\((milliseconds * 10).rounded() / 10)",
                LogKey.correlationID: "\(response.headers[CorrelationMiddleware.header] ?? "-")",
            ])
        return response
    }
}
