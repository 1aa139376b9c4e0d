import Logging
import PostgresNIO

/// A unit of work a `task` state runs, with typed input and output carried as JSON.
///
/// ```swift
/// struct Greet: Activity {
///     static let name = "greet"
///     func run(_ input: Person, context: ActivityContext) async throws -> Greeting { ... }
/// }
/// ```
/// Activities that call the outside world run at least once: pass `context.idempotencyKey` on.
public protocol Activity: Sendable {
    associatedtype Input: Decodable & Sendable
    associatedtype Output: Encodable & Sendable
    static var name: String { get }
    func run(_ input: Input, context: ActivityContext) async throws -> Output
}

/// An activity that only writes to this PostgreSQL: it runs inside the task's completion
/// transaction on `connection`, so its writes commit exactly once, together with the transition.
public protocol TransactionalActivity: Sendable {
    associatedtype Input: Decodable & Sendable
    associatedtype Output: Encodable & Sendable
    static var name: String { get }
    func run(_ input: Input, context: ActivityContext, connection: PostgresConnection) async throws -> Output
}

/// What an activity knows about the attempt it runs in.
public struct ActivityContext: Sendable {
    public var taskID: Int64
    public var workflowID: String
    public var workflowType: String
    public var state: String
    public var attempt: Int
    /// The same for every attempt of this task: pass it to outside services to dedupe retries.
    public var idempotencyKey: String
    public var correlationID: String?
    public var logger: Logger

    public init(
        taskID: Int64, workflowID: String, workflowType: String, state: String, attempt: Int,
        idempotencyKey: String, correlationID: String?, logger: Logger
    ) {
        self.taskID = taskID
        self.workflowID = workflowID
        self.workflowType = workflowType
        self.state = state
        self.attempt = attempt
        self.idempotencyKey = idempotencyKey
        self.correlationID = correlationID
        self.logger = logger
    }
}

/// The failure an activity reports: a dotted code, whether retrying can help, and an optional
/// server-requested delay (an HTTP `Retry-After`).
public struct ActivityError: Error, Sendable, Hashable, CustomStringConvertible {
    public var code: String
    public var message: String
    public var retryable: Bool
    public var retryAfter: Duration?

    public init(code: String, message: String, retryable: Bool = true, retryAfter: Duration? = nil) {
        self.code = code
        self.message = message
        self.retryable = retryable
        self.retryAfter = retryAfter
    }

    public static func nonRetryable(_ code: String, _ message: String) -> ActivityError {
        ActivityError(code: code, message: message, retryable: false)
    }

    public var description: String { "\(code): \(message)" }
}
