import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Orchestrator

/// Calls any HTTP endpoint, so a YAML file alone can drive an outside service.
///
/// Input `{url, method?, headers?, body?}`; output `{status, body}` (body parsed when JSON).
/// 2xx succeeds; connection errors, timeouts, 408, 429 and 5xx are retryable (`Retry-After`
/// honored); other 4xx fail with the non-retryable code `http.<status>`. Every request carries
/// `Idempotency-Key` (the same on every attempt) and `X-Correlation-Id`.
public struct HTTPActivity: Activity {
    public static let name = "http"

    public struct Input: Decodable, Sendable {
        public var url: String
        public var method: String?
        public var headers: [String: String]?
        public var body: JSONValue?
    }

    let client: HTTPClient
    /// Responses larger than this fail the attempt rather than exhaust memory.
    let maxResponseBytes: Int

    public init(client: HTTPClient, maxResponseBytes: Int = 4 << 20) {
        self.client = client
        self.maxResponseBytes = maxResponseBytes
    }

    public func run(_ input: Input, context: ActivityContext) async throws -> JSONValue {
        guard let url = URL(string: input.url), let scheme = url.scheme, ["http", "https"].contains(scheme.lowercased()) else {
            throw ActivityError.nonRetryable("http.invalid_url", "'\(input.url)' is not an http(s) URL")
        }
        var request = HTTPClientRequest(url: input.url)
        request.method = HTTPMethod(rawValue: (input.method ?? (input.body == nil ? "GET" : "POST")).uppercased())
        for (name, value) in input.headers ?? [:] { request.headers.replaceOrAdd(name: name, value: value) }
        request.headers.replaceOrAdd(name: "Idempotency-Key", value: context.idempotencyKey)
        request.headers.replaceOrAdd(name: "X-Correlation-Id", value: context.correlationID ?? context.idempotencyKey)
        if let body = input.body {
            switch body {
            case .string(let text):
                request.body = .bytes(ByteBuffer(string: text))
            default:
                request.body = .bytes(ByteBuffer(string: body.jsonText))
                if !request.headers.contains(name: "Content-Type") {
                    request.headers.add(name: "Content-Type", value: "application/json")
                }
            }
        }

        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await client.execute(request, timeout: .seconds(60))
            bytes = try await response.body.collect(upTo: maxResponseBytes)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw ActivityError(code: "timeout", message: "\(request.method.rawValue) \(input.url) timed out")
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw ActivityError(code: "http.connection", message: "\(request.method.rawValue) \(input.url) failed: \(error)")
        }

        let status = Int(response.status.code)
        let text = String(buffer: bytes)
        let body: JSONValue = (try? JSONValue(json: text)) ?? .string(text)
        switch status {
        case 200..<300:
            return ["status": .number(Double(status)), "body": body]
        case 408, 429, 500..<600:
            throw ActivityError(
                code: "http.\(status)", message: "\(request.method.rawValue) \(input.url) answered \(status)", retryable: true,
                retryAfter: Self.retryAfter(response.headers.first(name: "Retry-After")))
        default:
            throw ActivityError.nonRetryable("http.\(status)", "\(request.method.rawValue) \(input.url) answered \(status): \(text.prefix(200))")
        }
    }

    /// `Retry-After` as seconds or an HTTP date, capped at one hour.
    static func retryAfter(_ value: String?) -> Duration? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Int(value), seconds >= 0 { return .seconds(min(seconds, 3600)) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .seconds(min(max(date.timeIntervalSinceNow, 0), 3600))
    }
}
