import Foundation
import Orchestrator

/// The JSON names an outside client relies on (`openapi.yaml`), in one place.
enum Representation {
    static let timestamp = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    static func time(_ date: Date?) -> JSONValue {
        date.map { .string(timestamp.format($0)) } ?? .null
    }

    /// An RFC 3339 time a client sent, with or without fractional seconds, in UTC or with an offset.
    static func date(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    static func workflow(_ record: WorkflowRecord) -> JSONValue {
        [
            "id": .string(record.id),
            "type": .string(record.type),
            "version": .string(record.version),
            "status": .string(record.status.rawValue),
            "state": record.state.map(JSONValue.string) ?? .null,
            "input": record.input,
            "context": record.context,
            "output": record.output ?? .null,
            "error": record.error.map { ["code": .string($0.code), "message": .string($0.message)] } ?? .null,
            "created_at": time(record.createdAt),
            "updated_at": time(record.updatedAt),
            "completed_at": time(record.completedAt),
            "waiting": record.waiting.map(wait) ?? .null,
        ]
    }

    static func wait(_ wait: WorkflowRecord.Wait) -> JSONValue {
        ["for": .string(wait.kind.rawValue), "signals": .array(wait.signals.map(JSONValue.string)), "until": time(wait.until)]
    }

    static func definition(_ definition: WorkflowDefinition) -> JSONValue {
        [
            "type": .string(definition.type),
            "version": .string(definition.version),
            "start": .string(definition.start),
            "states": .array(definition.states.keys.sorted().map { name in
                let state = definition.states[name]!
                var successors: [String] = []
                for next in state.successors where !successors.contains(next) { successors.append(next) }
                return [
                    "name": .string(name), "kind": .string(state.kindName), "terminal": .bool(state.isTerminal),
                    "next": .array(successors.map(JSONValue.string)),
                ]
            }),
        ]
    }

    static func cause(_ cause: TaskDelayCause) -> JSONValue {
        ["code": .string(cause.code), "message": .string(cause.message)]
    }

    static func delay(_ facts: TaskFacts, _ cause: TaskDelayCause) -> JSONValue {
        [
            "task_id": .string(String(facts.taskID)),
            "kind": .string(facts.kind),
            "activity": .string(facts.activity),
            "status": .string(facts.status.rawValue),
            "run_at": time(facts.runAt),
            "started_at": time(facts.startedAt),
            "lease_owner": facts.leaseOwner.map(JSONValue.string) ?? .null,
            "live_workers": .number(Double(facts.liveWorkers)),
            "live_workers_for_activity": .number(Double(facts.liveWorkersForActivity)),
            "activity_limit": facts.limit.map { ["pattern": .string($0.pattern), "max_running": .number(Double($0.maxRunning)), "running": .number(Double($0.running))] } ?? .null,
            "older_due_tasks": .number(Double(facts.olderDueTasks)),
            "cause": Self.cause(cause),
        ]
    }

    static func deadLetterGroup(_ group: DeadLetterGroup) -> JSONValue {
        [
            "fingerprint": .string(group.fingerprint),
            "activity": .string(group.activity),
            "error_code": .string(group.errorCode),
            "message_pattern": .string(group.messagePattern),
            "sample_message": .string(group.sampleMessage),
            "workflow_types": .array(group.workflowTypes.map(JSONValue.string)),
            "count": .number(Double(group.count)),
            "first_seen": time(group.firstSeen),
            "last_seen": time(group.lastSeen),
        ]
    }

    static func resolution(_ resolution: DeadLetterResolution) -> JSONValue {
        [
            "action": .string(resolution.action.rawValue),
            "dry_run": .bool(resolution.dryRun),
            "matched": .number(Double(resolution.matched)),
            "resolved": .number(Double(resolution.resolved)),
            "failed": .array(resolution.failures.map { failure in
                ["id": .string(String(failure.deadLetterID)), "code": .string(failure.code), "message": .string(failure.message)]
            }),
            "remaining": .number(Double(resolution.remaining)),
            "up_to_id": resolution.upToID.map { .string(String($0)) } ?? .null,
        ]
    }

    static func event(_ event: EventRecord) -> JSONValue {
        [
            "seq": .number(Double(event.seq)),
            "type": .string(event.type.rawValue),
            "state": event.state.map(JSONValue.string) ?? .null,
            "attempt": event.attempt.map { .number(Double($0)) } ?? .null,
            "at": time(event.at),
            "data": event.data.map(idsAsStrings) ?? .null,
        ]
    }

    /// Ids are strings in every answer; events written by earlier releases stored `task_id` and
    /// `dead_letter_id` as numbers.
    static func idsAsStrings(_ data: JSONValue) -> JSONValue {
        var data = data
        for key in ["task_id", "dead_letter_id"] {
            if let number = data[key]?.numberValue { data[key] = .string(String(Int64(number))) }
        }
        return data
    }

    static func deadLetter(_ letter: DeadLetterRecord) -> JSONValue {
        [
            "id": .string(String(letter.id)),
            "task_id": .string(String(letter.taskID)),
            "workflow_id": .string(letter.workflowID),
            "workflow_type": .string(letter.workflowType),
            "state": .string(letter.state),
            "activity": .string(letter.activity),
            "error_code": .string(letter.errorCode),
            "status": .string(letter.status.rawValue),
            "attempts": .array(letter.attempts.map { attempt in
                [
                    "attempt": .number(Double(attempt.attempt)),
                    "error": ["code": .string(attempt.code), "message": .string(attempt.message)],
                    "at": time(attempt.at),
                ]
            }),
            "created_at": time(letter.createdAt),
            "resolved_at": time(letter.resolvedAt),
            "resolved_by": letter.resolvedBy.map(JSONValue.string) ?? .null,
            "resolution_reason": letter.resolutionReason.map(JSONValue.string) ?? .null,
            "error_message": .string(letter.errorMessage),
            "message_pattern": .string(letter.messagePattern),
            "fingerprint": .string(letter.fingerprint),
        ]
    }

    static func dashboard(_ dashboard: Dashboard) -> JSONValue {
        [
            "generated_at": time(dashboard.generatedAt),
            "late_tasks": .array(dashboard.lateTasks.map { task in
                [
                    "task_id": .string(String(task.taskID)),
                    "workflow_id": .string(task.workflowID),
                    "workflow_type": .string(task.workflowType),
                    "state": .string(task.state),
                    "activity": .string(task.activity),
                    "reason": .string(task.reason.rawValue),
                    "late_by_seconds": .number((task.lateBySeconds * 1000).rounded() / 1000),
                    "cause": task.cause.map(cause) ?? .null,
                ]
            }),
            "dead_letters": [
                "open": .number(Double(dashboard.openDeadLetters)),
                "groups": .array(dashboard.deadLetterGroups.map { group in
                    ["activity": .string(group.activity), "error_code": .string(group.errorCode), "open": .number(Double(group.open))]
                }),
            ],
            "queues": .array(dashboard.queues.map { queue in
                [
                    "activity": .string(queue.activity),
                    "ready": .number(Double(queue.ready)),
                    "scheduled": .number(Double(queue.scheduled)),
                    "running": .number(Double(queue.running)),
                    "oldest_ready_age_seconds": queue.oldestReadyAgeSeconds.map { .number(($0 * 1000).rounded() / 1000) } ?? .null,
                ]
            }),
            "workers": .array(dashboard.workers.map { worker in
                [
                    "id": .string(worker.id),
                    "host": .string(worker.host),
                    "pid": .number(Double(worker.pid)),
                    "concurrency": .number(Double(worker.concurrency)),
                    "started_at": time(worker.startedAt),
                    "heartbeat_at": time(worker.heartbeatAt),
                ]
            }),
            "throughput": [
                "tasks_last_minute": .number(Double(dashboard.throughput.tasksLastMinute)),
                "tasks_last_hour": .number(Double(dashboard.throughput.tasksLastHour)),
                "workflows_ended_last_minute": .number(Double(dashboard.throughput.workflowsEndedLastMinute)),
                "workflows_ended_last_hour": .number(Double(dashboard.throughput.workflowsEndedLastHour)),
                // Deprecated names of the two above, kept for one release.
                "workflows_last_minute": .number(Double(dashboard.throughput.workflowsEndedLastMinute)),
                "workflows_last_hour": .number(Double(dashboard.throughput.workflowsEndedLastHour)),
            ],
            "workflows": .object(dashboard.workflowsByStatus.mapValues { .number(Double($0)) }),
            "schedules": .array(dashboard.schedules.map { schedule in
                ["type": .string(schedule.type), "next_fire_at": time(schedule.nextFireAt), "late_by_seconds": .number((schedule.lateBySeconds * 1000).rounded() / 1000)]
            }),
        ]
    }
}
