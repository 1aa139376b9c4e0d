import Foundation
import NIOHTTP1
import Orchestrator
import PostgresNIO
import Testing

/// The shop end to end: `orchestrator serve` with the shipped `workflows.d/`, Stripe calls going
/// to localstripe, SMS and email to a recording server, and the test's own database connection
/// for what only time would do (firing a timer now).
struct CommerceWorld: Sendable {
    let harness: TestHarness
    let stripe: StripeTestDouble
    let messages: MessageRecorder
    let server: APIServerProcess
    /// Both verify (rotation); Stripe signs with the newer one.
    let webhookSecrets: [String]

    static var shippedWorkflows: [String] {
        let folder = Executable.packageRoot.appendingPathComponent("workflows.d")
        let files = (try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? []
        return files.filter { $0.pathExtension == "yaml" }.compactMap { try? String(contentsOf: $0, encoding: .utf8) }
    }

    static func run(workers: Int = 4, _ body: (CommerceWorld) async throws -> Void) async throws {
        try await TestDatabase.withHarness(workflows: []) { harness in
            let stripe = try await StripeTestDouble()
            let messages = MessageRecorder()
            try await messages.start()
            let secrets = ["whsec_\(UUID().uuidString.lowercased())", "whsec_\(UUID().uuidString.lowercased())"]
            let server: APIServerProcess
            do {
                server = try await startServer(harness: harness, stripe: stripe, messages: messages, secrets: secrets, workers: workers)
            } catch {
                await stripe.stop()
                await messages.stop()
                throw error
            }
            let world = CommerceWorld(harness: harness, stripe: stripe, messages: messages, server: server, webhookSecrets: secrets)
            do {
                try await body(world)
            } catch {
                await world.stop()
                throw error
            }
            await world.stop()
        }
    }

    static func startServer(harness: TestHarness, stripe: StripeTestDouble, messages: MessageRecorder, secrets: [String], workers: Int) async throws -> APIServerProcess {
        try await APIServerProcess(
            workflows: shippedWorkflows, databaseURL: harness.databaseURL, arguments: ["--workers", String(workers)],
            environment: [
                "STRIPE_API_KEY": StripeTestDouble.apiKey, "STRIPE_API_BASE": stripe.baseURL,
                "STRIPE_WEBHOOK_SECRET": secrets.joined(separator: ","),
                "TWILIO_ACCOUNT_SID": "AC\(UUID().uuidString.prefix(8))", "TWILIO_AUTH_TOKEN": UUID().uuidString, "TWILIO_FROM": "+15550000000",
                "TWILIO_API_BASE": messages.baseURL,
                "SENDGRID_API_KEY": "SG.\(UUID().uuidString)", "SENDGRID_FROM": "shop@example.com", "SENDGRID_API_BASE": messages.baseURL,
                "ORCHESTRATOR_OPS_EMAIL": "ops@example.com",
            ])
    }

    /// Another `orchestrator serve` on the same database and outside services (the caller stops it).
    func startAnotherServer(workers: Int = 4) async throws -> APIServerProcess {
        try await Self.startServer(harness: harness, stripe: stripe, messages: messages, secrets: webhookSecrets, workers: workers)
    }

    func stop() async {
        await server.stop()
        await stripe.stop()
        await messages.stop()
    }

    // MARK: - The shop's calls

    func setStock(_ sku: String, _ onHand: Int) async throws {
        let reply = try await server.json(.PUT, "/v1/inventory/\(sku)", role: "ops", ["on_hand": .number(Double(onHand))])
        #expect(reply.status == 200, "PUT inventory: \(reply.text)")
    }

    func stock(_ sku: String) async throws -> JSONValue {
        try await server.request(.GET, "/v1/inventory/\(sku)", role: "client").json
    }

    func order(_ id: String) async throws -> JSONValue {
        try await server.request(.GET, "/v1/orders/\(id)", role: "client").json
    }

    /// Starts a workflow; returns the reply (its `id` in `json`).
    @discardableResult
    func start(_ type: String, _ input: JSONValue, role: String = "client") async throws -> APIServerProcess.Reply {
        try await server.json(.POST, "/v1/workflows", role: role, ["type": .string(type), "input": input])
    }

    @discardableResult
    func signal(_ workflowID: String, _ name: String, _ payload: JSONValue = [:]) async throws -> APIServerProcess.Reply {
        try await server.json(.POST, "/v1/workflows/\(workflowID)/signals/\(name)", role: "client", ["payload": payload])
    }

    func waitFor(_ workflowID: String, status: String, state: String? = nil) async throws -> JSONValue {
        try await server.waitForWorkflow(workflowID) { workflow in
            workflow["status"]?.stringValue == status && (state == nil || workflow["state"]?.stringValue == state)
        }
    }

    /// Makes the workflow's pending timers due now (as if their time had passed).
    func fireTimers(_ workflowID: String) async throws {
        try await harness.client.query(
            """
            UPDATE orchestrator.tasks SET run_at = now() - interval '1 second'
            WHERE workflow_id = \(workflowID) AND kind = 'timer' AND status = 'ready'
            """, logger: harness.logger)
    }

    /// The activities the workflow ran, in order (one entry per completed task).
    func completedActivities(_ workflowID: String) async throws -> [String] {
        try await harness.query(
            "SELECT activity FROM orchestrator.tasks WHERE workflow_id = \(workflowID) AND kind = 'activity' AND status = 'completed' ORDER BY id",
            as: String.self)
    }

    /// Posts a Stripe event signed with `secret` (default: the newer configured one).
    func postStripeEvent(type: String, object: JSONValue, id: String? = nil, secret: String? = nil, time: Date = Date()) async throws -> APIServerProcess.Reply {
        let event = id.map { StripeTestDouble.signedEvent(id: $0, type: type, object: object, secret: secret ?? webhookSecrets[1], time: time) }
            ?? StripeTestDouble.signedEvent(type: type, object: object, secret: secret ?? webhookSecrets[1], time: time)
        return try await server.request(.POST, "/v1/webhooks/stripe", body: event.body, headers: [("Stripe-Signature", event.signature)])
    }

    static func checkoutInput(_ orderID: String, paymentMethod: String = "pm_card_visa", quantity: Int = 2, unitAmount: Int = 450,
                              extra: [String: JSONValue] = [:]) -> JSONValue {
        var input: [String: JSONValue] = [
            "order_id": .string(orderID), "customer": ["email": "ada@example.com", "phone": "+15551230000"],
            "items": [["sku": "tea", "quantity": .number(Double(quantity)), "unit_amount": .number(Double(unitAmount))]],
            "currency": "usd", "payment_method": .string(paymentMethod),
        ]
        for (key, value) in extra { input[key] = value }
        return .object(input)
    }
}
