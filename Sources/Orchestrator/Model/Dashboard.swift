import Foundation

/// What ops and monitoring look at: late tasks, open dead letters, queues, workers, throughput.
public struct Dashboard: Sendable, Hashable {
    public struct LateTask: Sendable, Hashable {
        public enum Reason: String, Sendable, Hashable {
            /// Ready (or due to retry) and not started within the late threshold.
            case notStarted = "not_started"
            /// Running longer than its timeout, lease not yet expired.
            case runningPastTimeout = "running_past_timeout"
            /// Its worker stopped renewing: the rescuer will take it back.
            case leaseExpired = "lease_expired"
        }
        public var taskID: Int64
        public var workflowID: String
        public var workflowType: String
        public var state: String
        public var activity: String
        public var reason: Reason
        public var lateBySeconds: Double
        /// Why, as far as the database can tell.
        public var cause: TaskDelayCause?
    }

    public struct DeadLetterGroup: Sendable, Hashable {
        public var activity: String
        public var errorCode: String
        public var open: Int
    }

    public struct Queue: Sendable, Hashable {
        public var activity: String
        /// Due now and waiting for a worker.
        public var ready: Int
        /// Waiting for their retry or timer time.
        public var scheduled: Int
        public var running: Int
        public var oldestReadyAgeSeconds: Double?

        public init(activity: String, ready: Int, scheduled: Int, running: Int, oldestReadyAgeSeconds: Double?) {
            self.activity = activity
            self.ready = ready
            self.scheduled = scheduled
            self.running = running
            self.oldestReadyAgeSeconds = oldestReadyAgeSeconds
        }
    }

    public struct WorkerInfo: Sendable, Hashable {
        public var id: String
        public var host: String
        public var pid: Int
        public var concurrency: Int
        public var startedAt: Date
        public var heartbeatAt: Date
    }

    /// Work finished in the last minute and hour.
    public struct Throughput: Sendable, Hashable {
        /// Activity tasks that completed (failed attempts and timers are not counted).
        public var tasksLastMinute: Int
        public var tasksLastHour: Int
        /// Workflows that ended: completed, failed or cancelled.
        public var workflowsEndedLastMinute: Int
        public var workflowsEndedLastHour: Int
    }

    public var generatedAt: Date
    public var lateTasks: [LateTask]
    public var openDeadLetters: Int
    public var deadLetterGroups: [DeadLetterGroup]
    public var queues: [Queue]
    public var workers: [WorkerInfo]
    public var throughput: Throughput
    /// Live instances by type and status.
    public var activeWorkflows: [ActiveWorkflows]
    /// Each schedule and how far past its next fire time it is (0 while on time).
    public var schedules: [ScheduleLag] = []

    public struct ScheduleLag: Sendable, Hashable {
        public var type: String
        public var nextFireAt: Date
        public var lateBySeconds: Double
    }

    public struct ActiveWorkflows: Sendable, Hashable {
        public var type: String
        public var status: String
        public var count: Int
    }

    /// Live instances by status, all types together.
    public var workflowsByStatus: [String: Int] {
        activeWorkflows.reduce(into: [:]) { $0[$1.status, default: 0] += $1.count }
    }
}
