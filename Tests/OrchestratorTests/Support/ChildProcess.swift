import Foundation
@testable import OrchestratorServer
import Synchronization

/// A process the tests start (the server, a CLI command, localstripe, promtool, pg_ctl), spawned
/// as the server spawns PostgreSQL (`ProcessSpawn`: no descriptor of the test process but the
/// ones named, no signal blocked or ignored) and waited for without blocking a thread.
///
/// Not Foundation's `Process`: it learns that a child exited when a socket it shares with the child
/// reaches end of file, which a copy of that socket inherited by any other process (a PostgreSQL
/// server started meanwhile) postpones until that process ends; and its `waitUntilExit()` blocks
/// a thread of the concurrency pool meanwhile, which on two cores is half of it.
final class ChildProcess: Sendable {
    enum Exit: Equatable, Sendable {
        case status(Int32)
        case signal(Int32)
    }

    let pid: pid_t
    private let reaped = Mutex<Exit?>(nil)

    /// Starts `executable` (see `ProcessSpawn.start`).
    init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, directory: URL? = nil, output: URL? = nil,
        inheriting: [Int32] = []
    ) throws {
        pid = try ProcessSpawn.start(executable, arguments, environment: environment, directory: directory?.path, output: output?.path, inheriting: inheriting)
    }

    /// How it ended, once it has (reaping it); `nil` while it runs.
    var exit: Exit? {
        reaped.withLock { reaped in
            if reaped == nil {
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid {
                    let signal = status & 0x7f
                    reaped = signal == 0 ? .status((status >> 8) & 0xff) : .signal(signal)
                }
            }
            return reaped
        }
    }

    var isRunning: Bool { exit == nil }

    func send(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// Waits up to `timeout` for it to end; how it ended, or `nil` if it still runs.
    func exit(within timeout: Duration) async -> Exit? {
        let deadline = ContinuousClock.now + timeout
        while isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return exit
    }

    /// Asks it to stop (SIGTERM), then kills it if it has not within `grace`, and reaps it.
    func stop(grace: Duration = .seconds(30)) async {
        send(SIGTERM)
        if await exit(within: grace) == nil {
            send(SIGKILL)
            _ = await exit(within: .seconds(30))
        }
    }
}
