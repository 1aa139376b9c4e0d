import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import Orchestrator

/// One request to a messaging provider, its failures mapped like the `http` activity's:
/// connection errors, 408, 429 and 5xx retryable (`Retry-After` honored), other 4xx final.
enum ProviderCall {
    struct Answer {
        var headers: HTTPHeaders
        var body: String
    }

    static func execute(_ request: HTTPClientRequest, http: HTTPClient, provider: String) async throws -> Answer {
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await http.execute(request, timeout: .seconds(30))
            body = try await response.body.collect(upTo: 1 << 20)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw ActivityError(code: "\(provider).connection", message: "\(provider) could not be reached: \(error)")
        }
        let status = Int(response.status.code)
        switch status {
        case 200..<300:
            return Answer(headers: response.headers, body: String(buffer: body))
        case 408, 429, 500...:
            throw ActivityError(code: "\(provider).\(status)", message: "\(provider) answered \(status)", retryable: true,
                                retryAfter: HTTPActivity.retryAfter(response.headers.first(name: "Retry-After")))
        default:
            throw ActivityError.nonRetryable("\(provider).\(status)", "\(provider) answered \(status): \(String(buffer: body).prefix(200))")
        }
    }
}
