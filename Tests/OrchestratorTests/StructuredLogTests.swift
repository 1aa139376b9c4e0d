import Foundation
import NIOHTTP1
import Orchestrator
@testable import OrchestratorServer
import Testing

/// What the log says, and what it never says.
@Suite struct StructuredLogTests {
    @Test func personalDataAndKeysAreMaskedWhereverTheyAppear() {
        let cases: [(String, String)] = [
            ("email not sent to ada.lovelace+shop@example.co.uk", "email not sent to <email>"),
            ("sms to +1 555-123-0000 failed", "sms to <phone> failed"),
            ("sms to +15551230000", "sms to <phone>"),
            ("card 4242 4242 4242 4242 declined", "card <card> declined"),
            ("card 4000000000000002 declined", "card <card> declined"),
            ("Authorization: Bearer ops_abcdefghijklmnopqrstuvwxyz012345", "Authorization: Bearer <key>"),
            ("key client_0123456789abcdefghij0123456789ab was refused", "key <key> was refused"),
            ("stripe key sk_test_51Habc and secret whsec_Zm9vYmFy", "stripe key <key> and secret <key>"),
            ("sendgrid SG.abcdefghij.klmnopqrstuv", "sendgrid <key>"),
        ]
        for (text, masked) in cases { #expect(LogRedaction.redact(text) == masked, "\(text)") }
        // The card pattern only runs on a run of digits shaped like one.
        #expect(LogRedaction.hasDigitRun("4242 4242 4242 4242", atLeast: 13) && LogRedaction.hasDigitRun("4000000000000002", atLeast: 13))
        #expect(!LogRedaction.hasDigitRun("5f48b183-bcea-4a04-80a6-7cf083e0ff99", atLeast: 13))
        #expect(!LogRedaction.hasDigitRun("99f6a2a90327a4c618075dbccd98a359", atLeast: 13))
        #expect(!LogRedaction.hasDigitRun("1234  5678 9012 3456", atLeast: 13))
        // What operators need stays: times, ids, amounts, durations, addresses.
        for kept in [
            "2026-11-26T03:02:30.531Z", "task 1234567 of workflow checkout:A-17", "correlation_id=5f48b183-bcea-4a04-80a6-7cf083e0ff99",
            "amount 450 usd", "timed out after 30s", "could not reach 10.0.0.7:8080", "pi_3Nq7xYzAbC",
        ] {
            #expect(LogRedaction.redact(kept) == kept, "\(kept)")
        }
    }

    static let notifying = """
        type: notifying
        start: tell
        states:
          tell:
            task: notify
            input: {template: order_confirmed, email: $.input.email, phone: $.input.phone, facts: {order_id: A-9, amount: 900, currency: usd}}
            next: done
          done: {succeed: true}
        """

    @Test func jsonLogsCarryTheTaskOnEveryLineOfItsWorkAndNoPersonalData() async throws {
        try await TestDatabase.withServer(workflows: [Self.notifying], environment: ["ORCHESTRATOR_LOG_FORMAT": "json"]) { server, _ in
            let started = try await server.json(
                .POST, "/v1/workflows", role: "client", ["type": "notifying", "input": ["email": "ada@example.com", "phone": "+15551230000"]],
                headers: [("X-Correlation-Id", "checkout-77")])
            let id = try #require(started.json["id"]?.stringValue)
            _ = try await server.waitForWorkflow(id) { $0["status"] == "completed" }
            let lines = server.log.split(separator: "\n").filter { $0.hasPrefix("{") }.map { try? JSONValue(json: String($0)) }
            #expect(!lines.isEmpty && lines.allSatisfy { $0 != nil }, "every line is a JSON object")
            let objects = lines.compactMap { $0 }
            #expect(objects.allSatisfy { $0["timestamp"]?.stringValue != nil && $0["level"]?.stringValue != nil && $0["message"]?.stringValue != nil })

            // The notifier's lines (no provider configured: it logs the message) are the task's.
            var sent: [JSONValue] = []
            for object in objects where (object["message"]?.stringValue ?? "").hasSuffix("not sent (no provider configured)") {
                sent.append(object)
            }
            #expect(sent.count == 2, "\(objects.count) \(objects.map { $0["message"]?.stringValue ?? "-" }) \(sent.map { $0["message"]?.stringValue ?? "-" })")
            for line in sent {
                #expect(line["workflow.id"] == .string(id) && line["task.id"]?.stringValue != nil && line["task.attempt"] == "1")
                #expect(line["correlation_id"] == "checkout-77")
                #expect(line["to"] == "<email>" || line["to"] == "<phone>")
            }
            let request = try #require(objects.first { $0["http.route"] == "/v1/workflows" && $0["http.method"] == "POST" })
            #expect(request["http.status"] == "201" && request["correlation_id"] == "checkout-77")
            #expect(!server.log.contains("ada@example.com") && !server.log.contains("15551230000"))
            #expect(!server.log.contains(APIServerProcess.secret("client")))
        }
    }
}
