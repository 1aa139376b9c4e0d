import Activities
import Orchestrator
import OrchestratorServer
import NIOPosix
import PostgresNIO

/// Counts its runs per workflow and state in `test_effects` (which the test creates), inside the
/// completion transaction: a count above 1 is a transactional write that happened twice.
struct CountEffect: TransactionalActivity {
    static let name = "test.count_effect"

    func run(_ input: JSONValue, context: ActivityContext, connection: PostgresConnection) async throws -> JSONValue {
        try await connection.query(
            """
            INSERT INTO test_effects (workflow_id, state, runs) VALUES (\(context.workflowID), \(context.state), 1)
            ON CONFLICT (workflow_id, state) DO UPDATE SET runs = test_effects.runs + 1
            """, logger: context.logger)
        return ["counted": true]
    }
}

/// Tells where it ran: on one of NIO's event loops (a `worker` process's executor) or not.
struct ReportExecutor: Activity {
    static let name = "test.report_executor"

    func run(_ input: JSONValue, context: ActivityContext) async throws -> JSONValue {
        ["on_event_loop": .bool(MultiThreadedEventLoopGroup.currentEventLoop != nil)]
    }
}

await OrchestratorCommand.main { environment in
    var registry = ActivityRegistry.builtins(environment)
    registry.register(CountEffect())
    registry.register(ReportExecutor())
    return registry
}
