import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Orchestrator

/// Calls an HTTP endpoint, so a YAML file alone can drive an outside service.
///
/// Input `{url, method?, headers?, body?, follow_redirects?}`; output `{status, body}` (body
/// parsed when JSON). 2xx succeeds; connection errors, timeouts, 408, 429 and 5xx are retryable
/// (`Retry-After` honored); other 4xx and unfollowed 3xx fail with the non-retryable code
/// `http.<status>`. Every request carries `Idempotency-Key` (the same on every attempt) and
/// `X-Correlation-Id`.
///
/// Its input may come from a client, so it is treated as hostile: the method must be one of
/// `allowedMethods`, headers may not replace `Host`, framing or hop-by-hop fields, redirects are
/// followed only when asked (each hop checked again), every host is checked against the
/// `OutboundAllowList` after resolution, and every connection failure reads the same.
public struct HTTPActivity: Activity {
    public static let name = "http"

    public struct Input: Decodable, Sendable {
        public var url: String
        public var method: String?
        public var headers: [String: String]?
        public var body: JSONValue?
        public var followRedirects: Bool?

        enum CodingKeys: String, CodingKey {
            case url, method, headers, body
            case followRedirects = "follow_redirects"
        }
    }

    static let allowedMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    /// Fields that describe the connection or the message's framing: the client sets them.
    static let reservedHeaders: Set<String> = [
        "host", "connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate", "te", "trailer",
        "transfer-encoding", "upgrade", "content-length", "expect",
    ]
    static let maxRedirects = 5

    /// Must not follow redirects itself (`redirectConfiguration: .disallow`): this activity follows them, hop by hop.
    let client: HTTPClient
    let allowList: OutboundAllowList
    /// Responses larger than this fail the attempt rather than exhaust memory.
    let maxResponseBytes: Int

    public init(client: HTTPClient, allowList: OutboundAllowList, maxResponseBytes: Int = 4 << 20) {
        self.client = client
        self.allowList = allowList
        self.maxResponseBytes = maxResponseBytes
    }

    public func run(_ input: Input, context: ActivityContext) async throws -> JSONValue {
        let methodName = (input.method ?? (input.body == nil ? "GET" : "POST")).uppercased()
        guard Self.allowedMethods.contains(methodName) else {
            throw ActivityError.nonRetryable("http.invalid_method", "method must be one of \(Self.allowedMethods.sorted().joined(separator: ", "))")
        }
        var headers = HTTPHeaders()
        for (name, value) in (input.headers ?? [:]).sorted(by: { $0.key < $1.key }) {
            try Self.checkHeader(name: name, value: value)
            headers.replaceOrAdd(name: name, value: value)
        }
        headers.replaceOrAdd(name: "Idempotency-Key", value: context.idempotencyKey)
        headers.replaceOrAdd(name: "X-Correlation-Id", value: context.correlationID ?? context.idempotencyKey)
        var body: ByteBuffer?
        if let value = input.body {
            if case .string(let text) = value {
                body = ByteBuffer(string: text)
            } else {
                body = ByteBuffer(string: value.jsonText)
                if !headers.contains(name: "Content-Type") { headers.add(name: "Content-Type", value: "application/json") }
            }
        }

        var target = try Self.target(input.url)
        var method = HTTPMethod(rawValue: methodName)
        var hops = 0
        while true {
            let (response, bytes) = try await send(method, to: target, headers: headers, body: body)
            let status = Int(response.status.code)
            if [301, 302, 303, 307, 308].contains(status), input.followRedirects == true,
                let location = response.headers.first(name: "Location"), let next = URL(string: location, relativeTo: target)?.absoluteURL
            {
                hops += 1
                guard hops <= Self.maxRedirects else {
                    throw ActivityError.nonRetryable("http.too_many_redirects", "\(input.url) redirected more than \(Self.maxRedirects) times")
                }
                let nextTarget = try Self.target(next.absoluteString)
                if nextTarget.host != target.host || nextTarget.scheme != target.scheme || nextTarget.port != target.port {
                    headers.remove(name: "Authorization")  // credentials stay with the origin they were given for
                    headers.remove(name: "Cookie")
                }
                if status == 303 || ((status == 301 || status == 302) && method == .POST) {
                    method = method == .HEAD ? .HEAD : .GET
                    body = nil
                    headers.remove(name: "Content-Type")
                }
                target = nextTarget
                continue
            }
            return try Self.outcome(status: status, headers: response.headers, bytes: bytes, method: method, url: target.absoluteString)
        }
    }

    /// An http(s) URL with a host.
    static func target(_ text: String) throws -> URL {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), let host = url.host, !host.isEmpty else {
            throw ActivityError.nonRetryable("http.invalid_url", "'\(text.prefix(200))' is not an http(s) URL")
        }
        return url
    }

    static func checkHeader(name: String, value: String) throws {
        let token = CharacterSet(charactersIn: "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        guard !name.isEmpty, name.unicodeScalars.allSatisfy(token.contains) else {
            throw ActivityError.nonRetryable("http.invalid_header", "'\(name.prefix(100))' is not a header name")
        }
        guard !reservedHeaders.contains(name.lowercased()) else {
            throw ActivityError.nonRetryable("http.invalid_header", "the \(name) header is set by the client, not by the workflow")
        }
        guard !value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else {
            throw ActivityError.nonRetryable("http.invalid_header", "the value of \(name) holds a line break or NUL")
        }
    }

    /// One request, to an allowed host. Plain HTTP goes to the address that was checked (the
    /// name is not resolved twice); HTTPS is resolved again by the client, and a name pointed
    /// elsewhere in between cannot present the certificate of the name it stands for.
    func send(_ method: HTTPMethod, to url: URL, headers: HTTPHeaders, body: ByteBuffer?) async throws -> (HTTPClientResponse, ByteBuffer) {
        let host = url.host ?? ""
        let isTLS = url.scheme?.lowercased() == "https"
        let port = url.port ?? (isTLS ? 443 : 80)
        let addresses = try await allowList.resolve(host: host, port: port)
        var request: HTTPClientRequest
        var headers = headers
        if isTLS {
            request = HTTPClientRequest(url: url.absoluteString)
        } else {
            var pinned = URLComponents(url: url, resolvingAgainstBaseURL: true)!
            let address = IPAddressRange.text(addresses[0])
            pinned.percentEncodedHost = addresses[0].count == 16 ? "[\(address)]" : address
            request = HTTPClientRequest(url: pinned.url!.absoluteString)
            headers.replaceOrAdd(name: "Host", value: url.port.map { "\(host):\($0)" } ?? host)
        }
        request.method = method
        request.headers = headers
        if let body { request.body = .bytes(body) }
        do {
            let response = try await client.execute(request, timeout: .seconds(60))
            return (response, try await response.body.collect(upTo: maxResponseBytes))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            throw ActivityError(code: "timeout", message: "\(method.rawValue) \(url.absoluteString) timed out")
        } catch is NIOTooManyBytesError {
            throw ActivityError.nonRetryable("http.response_too_large", "the response of \(url.absoluteString) exceeds \(maxResponseBytes) bytes")
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            // Refused, reset, no route, TLS, connect timeout: one answer, so it cannot map a network.
            throw ActivityError(code: "http.unreachable", message: "could not reach \(host):\(port)")
        }
    }

    static func outcome(status: Int, headers: HTTPHeaders, bytes: ByteBuffer, method: HTTPMethod, url: String) throws -> JSONValue {
        let text = String(buffer: bytes)
        switch status {
        case 200..<300:
            return ["status": .number(Double(status)), "body": (try? JSONValue(json: text)) ?? .string(text)]
        case 300..<400:
            throw ActivityError.nonRetryable("http.\(status)", "\(method.rawValue) \(url) redirected; set follow_redirects: true to follow")
        default:
            throw failure(status: status, headers: headers, body: text, code: "http", subject: "\(method.rawValue) \(url)")
        }
    }

    /// The error of an answer that is not a success, coded `<code>.<status>`: 408, 429 and 5xx
    /// are retryable (after `Retry-After` when given), others final with the start of the body.
    static func failure(status: Int, headers: HTTPHeaders, body: String, code: String, subject: String) -> ActivityError {
        switch status {
        case 408, 429, 500...:
            ActivityError(
                code: "\(code).\(status)", message: "\(subject) answered \(status)", retryable: true,
                retryAfter: retryAfter(headers.first(name: "Retry-After")))
        default:
            ActivityError.nonRetryable("\(code).\(status)", "\(subject) answered \(status): \(body.prefix(200))")
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
