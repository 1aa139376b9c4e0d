import Activities
import Orchestrator
import OrchestratorServer

await OrchestratorCommand.main(activities: { ActivityRegistry.builtins(httpClient: $0) })
