import PostgresNIO
import Synchronization

/// What a transaction's statements leave to do once it has committed (counting the starts, ends
/// and attempt outcomes they wrote), dropped if it rolls back. `EngineCore.transaction` binds one
/// to its connection for the body; a statement on any other connection, committed on its own,
/// does it at once.
final class AfterCommit: Sendable {
    @TaskLocal static var current: AfterCommit?

    private let connection: ObjectIdentifier
    private let actions = Mutex<[@Sendable () -> Void]>([])

    init(on connection: PostgresConnection) {
        self.connection = ObjectIdentifier(connection)
    }

    /// Runs `action` once the transaction running on `connection` commits: now when none does.
    static func run(on connection: PostgresConnection, _ action: @escaping @Sendable () -> Void) {
        guard let current, current.connection == ObjectIdentifier(connection) else { return action() }
        current.actions.withLock { $0.append(action) }
    }

    /// The transaction committed: does what its statements left.
    func committed() {
        for action in actions.withLock({ $0 }) { action() }
    }
}
