import Foundation
import NIOHTTP1
import Orchestrator
import Testing

/// The alert rules and the Grafana dashboard in `deploy/`: valid, unit-tested, and about metrics
/// `/metrics` really exposes.
@Suite(.serialized) struct MonitoringTests {
    static var deploy: URL { Executable.packageRoot.appendingPathComponent("deploy") }

    static var promtool: String? {
        ["/usr/bin/promtool", "/usr/local/bin/promtool"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs promtool in the rules' folder; its exit status and output.
    static func promtool(_ arguments: [String]) async throws -> (ChildProcess.Exit?, String) {
        let folder = try Executable.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("promtool.log")
        let process = try ChildProcess(
            try #require(promtool, "promtool is missing: scripts/test.sh installs Debian's prometheus package"), arguments,
            directory: deploy.appendingPathComponent("prometheus"), output: output)
        let exit = await process.exit(within: .seconds(60))
        await process.stop()
        return (exit, (try? String(contentsOf: output, encoding: .utf8)) ?? "")
    }

    @Test func theAlertRulesAreValidAndFireOnWhatTheyAreAbout() async throws {
        let (checked, checkOutput) = try await Self.promtool(["check", "rules", "alerts.yml"])
        #expect(checked == .status(0) && checkOutput.contains("SUCCESS: 8 rules found"), "\(checkOutput)")
        let (tested, testOutput) = try await Self.promtool(["test", "rules", "alerts_test.yml"])
        #expect(tested == .status(0), "\(testOutput)")
    }

    /// Every `orchestrator_…` name in a text.
    static func metricNames(in text: String) -> Set<String> {
        Set(text.matches(of: /orchestrator_[a-z_]+/).map { String($0.output) })
    }

    @Test func theAlertsAndTheDashboardUseOnlyMetricsTheServerExposes() async throws {
        let scheduled = """
            type: nightly
            start: run
            schedule: {cron: "0 3 * * *"}
            states:
              run: {task: noop, next: done}
              done: {succeed: true}
            """
        let remote = ScriptedHTTPServer([.init(status: 404, body: "gone")])
        try await remote.start()
        defer { Task { await remote.stop() } }
        try await TestDatabase.withServer(workflows: [HTTPAPITests.greet, HTTPAPITests.remote, scheduled]) { server, _ in
            // Something of everything: a completed workflow, a dead letter, a schedule.
            let greeted = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "greet", "input": [:]])
            _ = try await server.waitForWorkflow(try #require(greeted.json["id"]?.stringValue)) { $0["status"] == "completed" }
            let failing = try await server.json(.POST, "/v1/workflows", role: "client", ["type": "remote", "input": ["url": .string(remote.url)]])
            _ = try await server.waitForWorkflow(try #require(failing.json["id"]?.stringValue)) { $0["status"] == "dead_lettered" }
            let metrics = try await server.request(.GET, "/metrics", role: "monitor").text
            let exposed = Set(metrics.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line in
                line.split(whereSeparator: { $0 == "{" || $0 == " " }).first.map(String.init)
            })

            let alerts = try String(contentsOf: Self.deploy.appendingPathComponent("prometheus/alerts.yml"), encoding: .utf8)
            let dashboardText = try String(contentsOf: Self.deploy.appendingPathComponent("grafana/orchestrator.json"), encoding: .utf8)
            let dashboard = try JSONValue(json: dashboardText)
            let expressions = (dashboard["panels"]?.arrayValue ?? []).flatMap { $0["targets"]?.arrayValue ?? [] }.compactMap { $0["expr"]?.stringValue }
            #expect(expressions.count >= 16)
            let used = Self.metricNames(in: alerts).union(expressions.flatMap { Self.metricNames(in: $0) })
            #expect(used.count >= 14)
            for name in used.sorted() {
                #expect(exposed.contains(name), "\(name) is used but /metrics does not expose it")
            }
        }
    }
}
