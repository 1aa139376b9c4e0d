import CProcessSpawn
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Starts programs with `posix_spawn`, inheriting nothing of this process they were not given: a
/// child that outlives us (the PostgreSQL server `pg_ctl start` leaves running) would otherwise
/// hold our descriptors open for ever, and whoever watches one of them (a pipe, or the socket
/// Foundation's `Process` learns of an exit through) would never see it close.
enum ProcessSpawn {
    /// Starts `executable` (looked up in `PATH` unless it is a path) and returns its process id;
    /// the caller waits for it. Standard input is `/dev/null`; standard output and error go to
    /// `output` (appended, created if missing) or `/dev/null`; `inheriting` become its descriptors
    /// 3, 4, … and no other descriptor is open. No signal is blocked or ignored.
    static func start(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, directory: String? = nil, output: String? = nil,
        inheriting: [Int32] = []
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        for (offset, descriptor) in inheriting.enumerated() { posix_spawn_file_actions_adddup2(&actions, descriptor, 3 + Int32(offset)) }
        let closing = process_spawn_add_closefrom(&actions, 3 + Int32(inheriting.count))
        guard closing == 0 else { throw POSIXError(POSIXErrorCode(rawValue: closing) ?? .ENOSYS) }
        if let directory {
            let changing = process_spawn_add_chdir(&actions, directory)
            guard changing == 0 else { throw POSIXError(POSIXErrorCode(rawValue: changing) ?? .ENOSYS) }
        }
        // The spawning thread may block signals, and this process ignores some (SIGPIPE).
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
        return pid
    }
}
