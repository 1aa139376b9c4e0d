import Foundation
import HTTPTypes
import Hummingbird
import Orchestrator

/// An error answered as `application/problem+json` with a stable `code`.
struct APIError: HTTPResponseError {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    static func badRequest(_ code: String, _ message: String) -> APIError { APIError(.badRequest, code, message) }

    /// `503 database.unavailable` with `Retry-After`: the database is away (the probe says so, a
    /// lease failed, or a waiter's read went unanswered); nothing was changed.
    static func databaseUnavailable(_ message: String = "the database is unavailable; retry later") -> APIError {
        var error = APIError(.serviceUnavailable, OrchestratorError.Code.databaseUnavailable.rawValue, message)
        error.headers[.retryAfter] = "2"
        return error
    }

    /// The HTTP face of an engine error.
    init(_ error: OrchestratorError) {
        let status: HTTPResponse.Status =
            switch error.code {
            case .workflowNotFound, .deadLetterNotFound, .taskNotFound: .notFound
            case .workflowIDConflict, .idempotencyKeyReused, .deadLetterResolved, .workflowNotActive, .signalBufferFull: .conflict
            case .unknownWorkflowType, .unknownSignal, .invalidInput, .invalidJSON, .inputTooDeep, .tooManyItems: .unprocessableContent
            default: .internalServerError
            }
        self.init(status, error.code.rawValue, status == .internalServerError ? "internal error" : error.message)
        if error.code == .invalidJSON { self.status = .badRequest }
        if error.code == .databaseUnavailable { self = .databaseUnavailable(error.message) }
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var body: JSONValue = [
            "type": .string("urn:orchestrator:problem:\(code)"),
            "title": .string(status.reasonPhrase),
            "status": .number(Double(status.code)),
            "code": .string(code),
            "detail": .string(message),
        ]
        if let correlationID = (context as? APIRequestContext)?.correlationID {
            body["correlation_id"] = .string(correlationID)
        }
        var response = Response.json(body, status: status, contentType: "application/problem+json")
        for field in headers { response.headers.append(field) }
        return response
    }
}

extension Response {
    /// A JSON response from a `JSONValue`.
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, contentType: String = "application/json") -> Response {
        Response(
            status: status,
            headers: [.contentType: contentType],
            body: ResponseBody(byteBuffer: ByteBuffer(string: value.jsonText)))
    }
}
