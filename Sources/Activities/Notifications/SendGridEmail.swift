import Logging
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Orchestrator

/// Email through SendGrid's v3 mail send (`POST /v3/mail/send`, bearer key). SendGrid does not
/// dedupe requests: the task's idempotency key travels as a custom argument, and the answer's
/// `X-Message-Id` is recorded so a duplicate can be traced.
public struct SendGridEmail: Notifier {
    public let channel = NotificationChannel.email
    public let provider = "sendgrid"
    let http: HTTPClient
    let baseURL: String
    let apiKey: String
    let from: String

    public init(http: HTTPClient, baseURL: String, apiKey: String, from: String) {
        self.http = http
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.apiKey = apiKey
        self.from = from
    }

    public func send(_ message: OutgoingMessage, idempotencyKey: String, logger: Logger) async throws -> String {
        let body: JSONValue = [
            "personalizations": [["to": [["email": .string(message.to)]], "custom_args": ["idempotency_key": .string(idempotencyKey)]]],
            "from": ["email": .string(from)],
            "subject": .string(message.subject),
            "content": [["type": "text/plain", "value": .string(message.text)]],
        ]
        var request = HTTPClientRequest(url: baseURL + "/v3/mail/send")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body.jsonText))
        let response = try await ProviderCall.execute(request, http: http, provider: provider)
        return response.headers.first(name: "X-Message-Id") ?? idempotencyKey
    }
}
