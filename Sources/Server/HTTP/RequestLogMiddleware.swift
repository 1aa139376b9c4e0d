import Hummingbird
import Logging
import Orchestrator

/// One log line per request at `info`: method, route template, status, duration and correlation
/// id; never a key, a query string or a body. Probes and scrapes (`/healthz`, `/readyz`,
/// `/metrics`) are logged at `debug`, so a scraped server's log stays readable.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext

    static let quietPaths: Set<String> = ["/healthz", "/readyz", "/metrics"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let response = try await next(request, context)
        let elapsed = (ContinuousClock.now - started) / .milliseconds(1)
        let route = context.endpointPath ?? "unmatched"
        context.logger.log(
            level: Self.quietPaths.contains(route) ? .debug : .info, "request",
            metadata: [
                LogKey.httpMethod: "\(request.method.rawValue)", LogKey.httpRoute: "\(route)",
                LogKey.httpStatus: "\(response.status.code)", LogKey.durationMilliseconds: "\((elapsed * 10).rounded() / 10)",
                LogKey.correlationID: "\(response.headers[CorrelationMiddleware.header] ?? "-")",
            ])
        return response
    }
}
