import Activities
import Orchestrator
import OrchestratorServer

await OrchestratorCommand.main(activities: { ActivityRegistry.builtins($0) })
