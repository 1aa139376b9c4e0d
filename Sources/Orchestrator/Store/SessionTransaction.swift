/// A transaction and the session (backend process) running it: a process id alone outlives the
/// transaction, and is reused.
struct SessionTransaction: Sendable {
    var backend: Int32
    /// When the transaction began (`transaction_timestamp()`), in microseconds since 1970.
    var beganMicroseconds: Int64
}
