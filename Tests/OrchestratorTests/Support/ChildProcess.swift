import CProcessSpawn
import Foundation
import Synchronization

/// A process the tests start (the server, a CLI command, localstripe, promtool, pg_ctl), spawned
/// with `posix_spawn` so that it inherits no descriptor of the test process but the ones named,
/// with no signal blocked or ignored, and waited for without blocking a thread.
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

    /// Starts `executable`. Its standard input is `/dev/null`; standard output and error go to
    /// `output` (appended), or to `/dev/null`. `inheriting` descriptors become its 3, 4, …
    init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, directory: URL? = nil, output: URL? = nil,
        inheriting: [Int32] = []
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output?.path ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        for (offset, descriptor) in inheriting.enumerated() { posix_spawn_file_actions_adddup2(&actions, descriptor, 3 + Int32(offset)) }
        guard process_spawn_add_closefrom(&actions, 3 + Int32(inheriting.count)) == 0,
              process_spawn_add_chdir(&actions, directory?.path ?? ".") == 0
        else { throw POSIXError(.ENOSYS) }
        // A clean slate of signals: none blocked (the spawning thread may block some), none ignored.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var signals = sigset_t()
        sigemptyset(&signals)
        posix_spawnattr_setsigmask(&attributes, &signals)
        sigfillset(&signals)
        posix_spawnattr_setsigdefault(&attributes, &signals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let variables = environment ?? ProcessInfo.processInfo.environment
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, executable, &actions, &attributes, argv, envp)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EINVAL) }
        self.pid = pid
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
