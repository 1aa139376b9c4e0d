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
        guard (200..<300).contains(status) else {
            throw HTTPActivity.failure(status: status, headers: response.headers, body: String(buffer: body), code: provider, subject: provider)
        }
        return Answer(headers: response.headers, body: String(buffer: body))
    }
}
