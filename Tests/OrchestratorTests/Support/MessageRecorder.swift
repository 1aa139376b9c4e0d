import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// Twilio's and SendGrid's APIs for the tests: a loopback server that records every message
/// request (path, headers, body) and answers as the provider does (`201 {sid}`, `202` with `X-Message-Id`).
final class MessageRecorder: Sendable {
    struct Message: Sendable {
        var path: String
        var headers: [String: String]
        var body: String
        var isSMS: Bool { path.hasSuffix("/Messages.json") }
        /// The key the sender gave (Twilio's header, SendGrid's custom argument).
        var idempotencyKey: String {
            if isSMS { return headers["i-twilio-idempotency-token"] ?? "" }
            let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            let personalization = (json?["personalizations"] as? [[String: Any]])?.first
            return ((personalization?["custom_args"] as? [String: Any])?["idempotency_key"] as? String) ?? ""
        }
        /// The recipient: Twilio's `To`, or SendGrid's first personalization.
        var to: String {
            if isSMS {
                return body.split(separator: "&").first { $0.hasPrefix("To=") }.map { String($0.dropFirst(3)).removingPercentEncoding ?? "" } ?? ""
            }
            let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            let personalization = (json?["personalizations"] as? [[String: Any]])?.first
            return ((personalization?["to"] as? [[String: Any]])?.first?["email"] as? String) ?? ""
        }
    }

    private let recorded = Mutex<[Message]>([])
    private let delay = Mutex<Duration>(.zero)

    /// How long each answer takes from now on.
    func setDelay(_ value: Duration) { delay.withLock { $0 = value } }
    private let channel = Mutex<(any Channel)?>(nil)
    private let boundPort = Mutex(0)

    var port: Int { boundPort.withLock { $0 } }
    var baseURL: String { "http://127.0.0.1:\(port)" }
    var messages: [Message] { recorded.withLock { $0 } }
    var emails: [Message] { messages.filter { !$0.isSMS } }
    var texts: [Message] { messages.filter(\.isSMS) }

    func start() async throws {
        let channel = try await LoopbackHTTP.bind { head, body in
            var headers: [String: String] = [:]
            for (name, value) in head.headers { headers[name.lowercased()] = value }
            let message = Message(path: String(head.uri.split(separator: "?").first ?? ""), headers: headers, body: body)
            let count = self.recorded.withLock { $0.append(message); return $0.count }
            let delay = self.delay.withLock { $0 }
            if message.isSMS {
                return LoopbackReply(status: 201, headers: [("Content-Type", "application/json")], body: #"{"sid": "SM\#(count)"}"#, delay: delay)
            }
            return LoopbackReply(status: 202, headers: [("X-Message-Id", "sg-\(count)")], delay: delay)
        }
        boundPort.withLock { $0 = channel.localAddress?.port ?? 0 }
        self.channel.withLock { $0 = channel }
    }

    func stop() async {
        let channel = self.channel.withLock { $0 }
        try? await channel?.close()
    }
}
