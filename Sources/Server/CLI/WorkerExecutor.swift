import ArgumentParser
import NIOCore
import NIOPosix

/// Where Swift concurrency runs in a process that only runs tasks (`orchestrator worker`): on NIO's
/// event loops. A task then resumes on the thread its database reply arrived on instead of hopping
/// to Swift's own pool and back for every statement. Measured with the peer harness
/// (docs/performance.md): W1 +26 % workflows/s, W2 +32 % jobs/s with 16 slots, W1 latency p50
/// −7 %. An API server's starts were 10–15 % slower on the event loops, so `serve`, and every
/// other command, keeps Swift's pool.
enum WorkerExecutor {
    /// Installs the event loops as the global executor when `arguments` run `worker`. Call before
    /// any task starts (from `OrchestratorCommand.main(activities:)`, on the main thread).
    static func install(for arguments: [String]) {
        guard arguments.dropFirst().first == WorkerCommand.configuration.commandName else { return }
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
}
