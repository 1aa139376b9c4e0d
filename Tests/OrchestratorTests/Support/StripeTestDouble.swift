import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import Orchestrator

/// localstripe (PyPI) on a free loopback port, behind the small layer of
/// `Tests/Stripe/localstripe_front.py` (Idempotency-Key replay, no state on disk), one per test.
final class StripeTestDouble: Sendable {
    let process: ChildProcess
    let port: Int
    let http = HTTPClient(eventLoopGroupProvider: .singleton)
    /// Generated per test run: localstripe accepts any `sk_` key.
    static let apiKey = "sk_test_\(UUID().uuidString.replacingOccurrences(of: "-", with: ""))"

    var baseURL: String { "http://127.0.0.1:\(port)" }

    init() async throws {
        port = APIServerProcess.freePort()
        // scripts/test.sh installs localstripe in a virtual environment and names its interpreter.
        let python = ProcessInfo.processInfo.environment["ORCHESTRATOR_TEST_PYTHON"] ?? "python3"
        process = try ChildProcess(python, [Executable.packageRoot.appendingPathComponent("Tests/Stripe/localstripe_front.py").path, "--port", String(port)])
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if !process.isRunning { throw OrchestratorError(.configuration, "localstripe exited (pip install localstripe==1.15.10?)") }
            if (try? await request(.GET, "/v1/balance")) != nil { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw OrchestratorError(.configuration, "localstripe did not start on port \(port)")
    }

    func stop() async {
        // SIGKILL: localstripe keeps nothing worth a graceful stop.
        process.send(SIGKILL)
        _ = await process.exit(within: .seconds(30))
        try? await http.shutdown()
    }

    /// A form-encoded call to the Stripe API; the parsed JSON answer.
    @discardableResult
    func request(_ method: HTTPMethod, _ path: String, form: [(String, String)] = []) async throws -> JSONValue {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(Self.apiKey)")
        if !form.isEmpty {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
            request.body = .bytes(ByteBuffer(string: form.map {
                "\($0.0.addingPercentEncoding(withAllowedCharacters: allowed)!)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)"
            }.joined(separator: "&")))
        }
        let response = try await http.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 4 << 20)
        let json = try JSONValue(json: String(buffer: body))
        guard (200..<300).contains(response.status.code) else {
            throw OrchestratorError(.configuration, "localstripe \(method) \(path) answered \(response.status.code): \(json.jsonText)")
        }
        return json
    }

    /// Holds back answers to POSTs on `path` for `seconds` after carrying them out (see the front layer).
    func delayResponses(to path: String, seconds: Double) async throws {
        var request = HTTPClientRequest(url: baseURL + "/_config/response_delay")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        let body: JSONValue = ["path": .string(path), "seconds": .number(seconds)]
        request.body = .bytes(ByteBuffer(string: body.jsonText))
        _ = try await http.execute(request, timeout: .seconds(10)).body.collect(upTo: 1 << 16)
    }

    /// The PaymentIntents whose metadata names `workflowID`.
    func paymentIntents(workflowID: String) async throws -> [JSONValue] {
        let list = try await request(.GET, "/v1/payment_intents?limit=100")
        return (list["data"]?.arrayValue ?? []).filter { $0["metadata"]?["workflow_id"]?.stringValue == workflowID }
    }

    func paymentIntent(_ id: String) async throws -> JSONValue {
        try await request(.GET, "/v1/payment_intents/\(id)")
    }

    /// A card PaymentMethod whose payments need 3-D Secure (localstripe's 4000002760003184).
    func threeDSecureCard() async throws -> String {
        let method = try await request(.POST, "/v1/payment_methods", form: [
            ("type", "card"), ("card[number]", "4000002760003184"), ("card[exp_month]", "12"), ("card[exp_year]", "2034"), ("card[cvc]", "123"),
        ])
        return method["id"]?.stringValue ?? ""
    }

    /// Completes or fails the 3-D Secure step, as the customer's browser would.
    func authenticate(_ paymentIntentID: String, success: Bool) async throws {
        let intent = try await paymentIntent(paymentIntentID)
        let secret = intent["client_secret"]?.stringValue ?? ""
        try await request(.POST, "/v1/payment_intents/\(paymentIntentID)/_authenticate?client_secret=\(secret)&success=\(success)")
    }

    /// The total refunded on a PaymentIntent, as Stripe counts it.
    func refundedTotal(_ paymentIntentID: String) async throws -> Int {
        let refunds = try await request(.GET, "/v1/refunds?payment_intent=\(paymentIntentID)&limit=100")
        return (refunds["data"]?.arrayValue ?? []).reduce(0) { $0 + Int($1["amount"]?.numberValue ?? 0) }
    }

    /// A Stripe event as Stripe would post it, and its `Stripe-Signature` for `secret` at `time`.
    static func signedEvent(id: String = "evt_\(UUID().uuidString.prefix(12))", type: String, object: JSONValue, secret: String, time: Date = Date()) -> (body: String, signature: String) {
        let body: JSONValue = ["id": .string(id), "object": "event", "type": .string(type), "created": .number(time.timeIntervalSince1970.rounded()), "data": ["object": object]]
        let text = body.jsonText
        let timestamp = Int(time.timeIntervalSince1970)
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(timestamp).\(text)".utf8), using: SymmetricKey(data: Array(secret.utf8)))
        return (text, "t=\(timestamp),v1=\(mac.map { String(format: "%02x", $0) }.joined())")
    }
}
