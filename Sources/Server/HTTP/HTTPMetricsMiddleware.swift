import Hummingbird

/// Counts requests and times them by route template (never an id) and status.
struct HTTPMetricsMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let response = try await next(request, context)
        HTTPMetrics.request(
            route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: Int(response.status.code),
            duration: ContinuousClock.now - started)
        return response
    }
}
