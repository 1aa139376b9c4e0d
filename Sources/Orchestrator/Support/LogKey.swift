import Logging

/// Log metadata keys, in one place so every component logs the same names.
public enum LogKey {
    public static let workflowID = "workflow.id"
    public static let workflowType = "workflow.type"
    public static let taskID = "task.id"
    public static let attempt = "task.attempt"
    public static let activity = "activity"
    public static let correlationID = "correlation_id"
    public static let workerID = "worker.id"
    public static let error = "error"
    public static let leaseOwner = "lease.owner"
    public static let limitPattern = "limit.pattern"
    public static let limitMaxRunning = "limit.max_running"
    public static let deadLetterID = "dead_letter.id"
    public static let errorCode = "error.code"
    public static let httpMethod = "http.method"
    public static let httpRoute = "http.route"
    public static let httpStatus = "http.status"
    public static let durationMilliseconds = "duration_ms"
    public static let channel = "pg.channel"
}
