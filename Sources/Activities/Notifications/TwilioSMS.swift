import Logging
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Orchestrator

/// SMS through Twilio's Messages API (`POST /2010-04-01/Accounts/{sid}/Messages.json`, basic
/// auth, form-encoded). The task's idempotency key travels as `I-Twilio-Idempotency-Token` for a
/// provider or proxy that dedupes on it; the message `sid` Twilio answers is recorded.
public struct TwilioSMS: Notifier {
    public let channel = NotificationChannel.sms
    public let provider = "twilio"
    let http: HTTPClient
    let baseURL: String
    let accountSID: String
    let authToken: String
    let from: String

    public init(http: HTTPClient, baseURL: String, accountSID: String, authToken: String, from: String) {
        self.http = http
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.accountSID = accountSID
        self.authToken = authToken
        self.from = from
    }

    public func send(_ message: OutgoingMessage, idempotencyKey: String, logger: Logger) async throws -> String {
        var request = HTTPClientRequest(url: "\(baseURL)/2010-04-01/Accounts/\(FormEncoding.escape(accountSID))/Messages.json")
        request.method = .POST
        let credentials = Data("\(accountSID):\(authToken)".utf8).base64EncodedString()
        request.headers.add(name: "Authorization", value: "Basic \(credentials)")
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "I-Twilio-Idempotency-Token", value: idempotencyKey)
        request.body = .bytes(ByteBuffer(string: FormEncoding([("To", message.to), ("From", from), ("Body", message.text)]).encoded))
        let response = try await ProviderCall.execute(request, http: http, provider: provider)
        return (try? JSONValue(json: response.body))?["sid"]?.stringValue ?? idempotencyKey
    }
}
