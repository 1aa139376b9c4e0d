import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
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
            // Fail fast while the database is away, except for liveness, readiness and metrics (which say so).
            guard probe.isReachable || ["/healthz", "/readyz", "/metrics"].contains(request.uri.path) else {
                throw APIError.databaseUnavailable()
            }
            if let length = request.headers[.contentLength].flatMap(Int.init), length > bodyLimit {
                throw APIError(.contentTooLarge, "request.too_large", "the request body exceeds \(bodyLimit) bytes")
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
        case let error where DatabasePool.isUnavailability(error):
            context.logger.warning("database unavailable", metadata: [LogKey.error: "\(String(reflecting: error))"])
            apiError = .databaseUnavailable()
        case HTTPParserError.invalidEOFState:
            // The client went away mid-request: nobody reads an answer, and it is not our error.
            context.logger.debug("client closed the connection mid-request")
            apiError = APIError(Self.clientClosedRequest, "request.aborted", "the client closed the connection before the request ended")
        case let error as HTTPParserError:
            apiError = APIError.badRequest("request.malformed_http", "the request's HTTP framing is invalid: \(error)")
            apiError.headers[.connection] = "close"
        case is NIOTooManyBytesError:
            apiError = APIError(.contentTooLarge, "request.too_large", "the request body exceeds \(context.bodyLimit) bytes")
        default:
            context.logger.error("request failed", metadata: [LogKey.error: "\(String(reflecting: error))"])
            apiError = APIError(.internalServerError, "internal", "internal error; quote the correlation id when reporting it")
        }
        if apiError.status == .contentTooLarge {
            // The rest of the body stays unread: the connection cannot carry another request.
            apiError.headers[.connection] = "close"
        }
        return try apiError.response(from: request, context: context)
    }

    /// nginx's "client closed request": counted apart from the server's own errors.
    static let clientClosedRequest = HTTPResponse.Status(code: 499, reasonPhrase: "Client Closed Request")

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
