import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Logging
import Orchestrator
import PostgresNIO

/// Accepts or generates `X-Correlation-Id`, puts it in the logger and on the response, applies the
/// body limit, and turns every error into problem+json (a 500 keeps its internals in the log).
struct CorrelationMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let bodyLimit: Int
    let probe: DatabaseProbe

    static let header = HTTPField.Name("X-Correlation-Id")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.bodyLimit = bodyLimit
        let presented = request.headers[Self.header].flatMap { value in
            value.count <= 128 && value.allSatisfy({ $0.isASCII && !$0.isWhitespace }) && !value.isEmpty ? value : nil
        }
        context.correlationID = presented ?? UUID().uuidString.lowercased()
        context.logger[metadataKey: LogKey.correlationID] = "\(context.correlationID)"
        var response: Response
        do {
            // Fail fast while the database is away, except for liveness and readiness.
            guard probe.isReachable || request.uri.path == "/healthz" || request.uri.path == "/readyz" else {
                var error = APIError(.serviceUnavailable, "database.unavailable", "the database is unavailable; retry later")
                error.headers[.retryAfter] = "2"
                throw error
            }
            response = try await next(request, context)
        } catch {
            response = try Self.problem(for: error, request: request, context: context)
        }
        response.headers[Self.header] = context.correlationID
        return response
    }

    static func problem(for error: any Error, request: Request, context: Context) throws -> Response {
        var apiError: APIError
        switch error {
        case let error as APIError:
            apiError = error
        case let error as OrchestratorError:
            apiError = APIError(error)
            if apiError.status == .internalServerError {
                context.logger.error("request failed", metadata: [LogKey.error: "\(error)"])
            }
        case let error as HTTPError:
            apiError = Self.map(error)
        case let error as PSQLError where error.code != .server:
            context.logger.warning("database unavailable", metadata: [LogKey.error: "\(String(reflecting: error))"])
            apiError = APIError(.serviceUnavailable, "database.unavailable", "the database is unavailable; retry later")
            apiError.headers[.retryAfter] = "2"
        case is NIOTooManyBytesError:
            apiError = APIError(.contentTooLarge, "request.too_large", "the request body exceeds \(context.bodyLimit) bytes")
        default:
            context.logger.error("request failed", metadata: [LogKey.error: "\(String(reflecting: error))"])
            apiError = APIError(.internalServerError, "internal", "internal error; quote the correlation id when reporting it")
        }
        return try apiError.response(from: request, context: context)
    }

    static func map(_ error: HTTPError) -> APIError {
        switch error.status {
        case .notFound: return APIError(.notFound, "route.not_found", "no such route")
        case .methodNotAllowed:
            var mapped = APIError(.methodNotAllowed, "route.method_not_allowed", "this route does not accept that method")
            mapped.headers = error.headers
            return mapped
        case .contentTooLarge: return APIError(.contentTooLarge, "request.too_large", "the request body is too large")
        default: return APIError(error.status, "http.\(error.status.code)", error.body ?? error.status.reasonPhrase)
        }
    }
}
