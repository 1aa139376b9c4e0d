import Foundation

/// Workflow statuses, as stored in `workflows.status`.
public enum WorkflowStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case running, waiting
    case deadLettered = "dead_lettered"
    case completed, failed, cancelled

    public var isTerminal: Bool { self == .completed || self == .failed || self == .cancelled }
}

/// Task statuses, as stored in `tasks.status`. `failed` will retry; `dead` will not run again
/// (dead-lettered, or exhausted and taken by a `catch`).
public enum TaskStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case ready, running, completed, failed, dead, cancelled
}

/// A workflow instance as clients see it.
public struct WorkflowRecord: Sendable, Hashable, Codable {
    public var id: String
    public var type: String
    public var version: String
    public var status: WorkflowStatus
    public var state: String?
    public var input: JSONValue
    public var context: JSONValue
    public var output: JSONValue?
    public var error: StateMachine.WorkflowFailure?
    public var createdAt: Date
    public var updatedAt: Date
    public var completedAt: Date?
    /// What a `waiting` instance waits for; `nil` otherwise.
    public var waiting: Wait?

    /// It will not move on by itself: it ended, was dead-lettered, or waits for a signal (the
    /// caller, a customer or ops must act). A timer or a child workflow it waits for is progress.
    public var isSettled: Bool {
        status.isTerminal || status == .deadLettered || (status == .waiting && waiting?.kind == .signal)
    }

    /// What a `waiting` instance waits for, and until when.
    public struct Wait: Sendable, Hashable, Codable {
        public enum Kind: String, Sendable, Hashable, Codable {
            /// A `wait_for` state: the first of `signals`.
            case signal
            /// A `sleep` state.
            case timer
            /// A `start_workflow` state waiting for its child.
            case child
        }
        public var kind: Kind
        public var signals: [String]
        /// When the wait ends by itself (a `wait_for`'s timeout, a `sleep`'s end); `nil`: never.
        public var until: Date?

        public init(kind: Kind, signals: [String] = [], until: Date? = nil) {
            self.kind = kind
            self.signals = signals
            self.until = until
        }

        /// The wait of an instance from what is stored: its `waiting_for` names and its pending timer.
        public init?(status: WorkflowStatus, signals: [String], timerAt: Date?) {
            guard status == .waiting else { return nil }
            self.init(kind: !signals.isEmpty ? .signal : timerAt != nil ? .timer : .child, signals: signals, until: timerAt)
        }
    }
}

/// One entry of a workflow's ordered history.
public struct EventRecord: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case workflowStarted = "workflow_started"
        case stateEntered = "state_entered"
        case taskScheduled = "task_scheduled"
        case taskStarted = "task_started"
        case taskCompleted = "task_completed"
        case taskFailed = "task_failed"
        case taskDeadLettered = "task_dead_lettered"
        case signalReceived = "signal_received"
        case timerFired = "timer_fired"
        case childStarted = "child_started"
        case childEnded = "child_ended"
        case signalSent = "signal_sent"
        case deadLetterRetried = "dead_letter_retried"
        case deadLetterDiscarded = "dead_letter_discarded"
        case workflowCompleted = "workflow_completed"
        case workflowFailed = "workflow_failed"
        case workflowCancelled = "workflow_cancelled"
    }

    public var seq: Int
    public var type: Kind
    public var state: String?
    public var attempt: Int?
    public var at: Date
    public var data: JSONValue?
}

/// One attempt's error, as kept on the task and copied into its dead letter.
public struct AttemptError: Sendable, Hashable, Codable {
    public var attempt: Int
    public var code: String
    public var message: String
    public var at: Date
}

/// A task that exhausted its retries (or failed for good) and waits for ops.
public struct DeadLetterRecord: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        case open, retried, discarded
    }
    public var id: Int64
    public var taskID: Int64
    public var workflowID: String
    public var workflowType: String
    public var state: String
    public var activity: String
    public var errorCode: String
    public var status: Status
    public var attempts: [AttemptError]
    public var createdAt: Date
    public var resolvedAt: Date?
    public var resolvedBy: String?
    /// Why ops retried or discarded it, as they said.
    public var resolutionReason: String?
    /// The last attempt's message, and that message with what varies masked (`orchestrator.error_pattern`).
    public var errorMessage: String
    public var messagePattern: String
    /// Activity, error code and message pattern, hashed: dead letters with one cause share it.
    public var fingerprint: String
}

/// Open dead letters that share a fingerprint: one cause, however many workflows it stopped.
public struct DeadLetterGroup: Sendable, Hashable {
    public var fingerprint: String
    public var activity: String
    public var errorCode: String
    public var messagePattern: String
    /// The newest member's message, as it was.
    public var sampleMessage: String
    public var workflowTypes: [String]
    public var count: Int
    public var firstSeen: Date
    public var lastSeen: Date
}

/// What a bulk retry or discard did (or, dry, would do).
public struct DeadLetterResolution: Sendable, Hashable {
    public enum Action: String, Sendable, Hashable, Codable, CaseIterable {
        case retry, discard
    }
    public struct Failure: Sendable, Hashable {
        public var deadLetterID: Int64
        public var code: String
        public var message: String
    }
    public var action: Action
    public var dryRun: Bool
    /// Open dead letters the filter matched when the call began (it takes on at most its limit).
    public var matched: Int
    /// Those this call retried or discarded. One closed meanwhile (by someone else, or with a
    /// sibling of its workflow) is neither resolved nor a failure.
    public var resolved: Int
    public var failures: [Failure]
    /// Open dead letters the filter still matches after this call (a next call takes them on).
    public var remaining: Int
    /// The newest dead letter the filter covers: pass it as `up_to_id` so later arrivals are not swept in.
    public var upToID: Int64?
}

/// What became of a delivered signal.
public enum SignalDelivery: String, Sendable, Hashable, Codable {
    /// The workflow was waiting for it and moved on.
    case consumed
    /// Stored until the workflow waits for it.
    case buffered
    /// A signal with the same idempotency key was already delivered.
    case duplicate
}
