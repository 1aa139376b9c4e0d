import Foundation
import HTTPTypes
import Hummingbird

/// Spends a token of the authenticated key's budget for the route's class: `429` with
/// `Retry-After` when the bucket is empty. Runs after `AuthMiddleware`.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let limiter: RateLimiter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let key = context.key else { return try await next(request, context) }
        let routeClass = Self.routeClass(of: request)
        if case .refused(let retryAfter) = limiter.take(key: key.name, routeClass: routeClass) {
            HTTPMetrics.rateLimited(key: key.name, routeClass: routeClass.rawValue)
            let seconds = max(1, Int((Double(retryAfter.components.seconds) + Double(retryAfter.components.attoseconds) / 1e18).rounded(.up)))
            var error = APIError(
                .tooManyRequests, "request.rate_limited",
                "key '\(key.name)' is over its \(routeClass.rawValue) budget (\(limiter.rates[routeClass].map(\.description) ?? "")); retry in \(seconds)s")
            error.headers[.retryAfter] = String(seconds)
            throw error
        }
        return try await next(request, context)
    }

    static func routeClass(of request: Request) -> RateLimiter.RouteClass {
        switch request.method {
        case .get, .head: .read
        case .post where request.uri.path == "/v1/workflows": .start
        default: .write
        }
    }
}
