-- The durable model of Orchestrator. Every status is readable text guarded by a CHECK.

CREATE TABLE orchestrator.definitions (
    type        text        NOT NULL,
    version     text        NOT NULL,
    definition  jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (type, version)
);

-- Moved by: the engine (start, every completion), ops (cancel, dead-letter resolution).
CREATE TABLE orchestrator.workflows (
    id               text        PRIMARY KEY,
    type             text        NOT NULL,
    version          text        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('running', 'waiting', 'dead_lettered', 'completed', 'failed', 'cancelled')),
    state            text,
    input            jsonb       NOT NULL,
    context          jsonb       NOT NULL,
    output           jsonb,
    error            jsonb,
    idempotency_key  text        UNIQUE,
    request_hash     text        NOT NULL,
    correlation_id   text,
    -- The signal a `wait_for` state waits for, while status = 'waiting'.
    waiting_for      text,
    -- Counts state entries, so tasks of one visit of a state (a map's items) are told apart.
    visit            bigint      NOT NULL DEFAULT 0,
    event_seq        integer     NOT NULL DEFAULT 0,
    cancel_requested boolean     NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    completed_at     timestamptz,
    FOREIGN KEY (type, version) REFERENCES orchestrator.definitions (type, version)
);
CREATE INDEX workflows_list ON orchestrator.workflows (created_at DESC, id DESC);
CREATE INDEX workflows_type_status ON orchestrator.workflows (type, status, created_at DESC, id DESC);
CREATE INDEX workflows_status ON orchestrator.workflows (status, created_at DESC, id DESC);

-- The queue. `ready` and `failed` (waiting to retry) tasks are claimed by workers once `run_at`
-- has passed; the completer moves `running` ones on; the rescuer takes back expired leases;
-- ops move `dead` ones (retry) and the engine `cancelled` ones.
CREATE TABLE orchestrator.tasks (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_id      text        NOT NULL REFERENCES orchestrator.workflows (id),
    state            text        NOT NULL,
    visit            bigint      NOT NULL,
    kind             text        NOT NULL CHECK (kind IN ('activity', 'timer')),
    activity         text        NOT NULL,
    item_index       integer,
    input            jsonb       NOT NULL,
    result           jsonb,
    status           text        NOT NULL CHECK (status IN ('ready', 'running', 'completed', 'failed', 'dead', 'cancelled')),
    attempt          integer     NOT NULL DEFAULT 0,
    max_attempts     integer     NOT NULL,
    run_at           timestamptz NOT NULL,
    timeout_ms       bigint      NOT NULL,
    lease_owner      text,
    lease_expires_at timestamptz,
    idempotency_key  text        NOT NULL,
    concurrency_key  text,
    correlation_id   text,
    errors           jsonb       NOT NULL DEFAULT '[]',
    created_at       timestamptz NOT NULL,
    started_at       timestamptz,
    completed_at     timestamptz
);
-- The claim walks this index in order and never sorts the queue.
CREATE INDEX tasks_claim ON orchestrator.tasks (run_at, id)
    WHERE status IN ('ready', 'failed') AND concurrency_key IS NULL;
CREATE INDEX tasks_claim_limited ON orchestrator.tasks (concurrency_key, run_at, id)
    WHERE status IN ('ready', 'failed') AND concurrency_key IS NOT NULL;
CREATE INDEX tasks_running ON orchestrator.tasks (lease_expires_at) WHERE status = 'running';
CREATE INDEX tasks_running_limited ON orchestrator.tasks (concurrency_key) WHERE status = 'running' AND concurrency_key IS NOT NULL;
CREATE INDEX tasks_workflow ON orchestrator.tasks (workflow_id, visit);
CREATE INDEX tasks_completed_at ON orchestrator.tasks (completed_at) WHERE completed_at IS NOT NULL;

CREATE TABLE orchestrator.events (
    workflow_id text        NOT NULL REFERENCES orchestrator.workflows (id),
    seq         integer     NOT NULL,
    type        text        NOT NULL CHECK (type IN (
        'workflow_started', 'state_entered', 'task_scheduled', 'task_started', 'task_completed',
        'task_failed', 'task_dead_lettered', 'signal_received', 'timer_fired', 'dead_letter_retried',
        'dead_letter_discarded', 'workflow_completed', 'workflow_failed', 'workflow_cancelled')),
    state       text,
    attempt     integer,
    data        jsonb,
    at          timestamptz NOT NULL,
    PRIMARY KEY (workflow_id, seq)
);

-- Signals are kept even before the workflow waits for them (buffered) and consumed in order.
CREATE TABLE orchestrator.signals (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_id     text        NOT NULL REFERENCES orchestrator.workflows (id),
    name            text        NOT NULL,
    payload         jsonb       NOT NULL,
    idempotency_key text,
    consumed_at     timestamptz,
    created_at      timestamptz NOT NULL,
    UNIQUE (workflow_id, name, idempotency_key)
);
CREATE INDEX signals_pending ON orchestrator.signals (workflow_id, name, id) WHERE consumed_at IS NULL;

CREATE TABLE orchestrator.dead_letters (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id       bigint      NOT NULL REFERENCES orchestrator.tasks (id),
    workflow_id   text        NOT NULL REFERENCES orchestrator.workflows (id),
    workflow_type text        NOT NULL,
    state         text        NOT NULL,
    activity      text        NOT NULL,
    error_code    text        NOT NULL,
    status        text        NOT NULL CHECK (status IN ('open', 'retried', 'discarded')),
    attempts      jsonb       NOT NULL,
    created_at    timestamptz NOT NULL,
    resolved_at   timestamptz,
    resolved_by   text
);
CREATE INDEX dead_letters_open ON orchestrator.dead_letters (activity, error_code) WHERE status = 'open';
CREATE INDEX dead_letters_list ON orchestrator.dead_letters (id DESC);
CREATE INDEX dead_letters_workflow ON orchestrator.dead_letters (workflow_id);

-- One row per scheduled type; the scheduler advances `next_fire_at` in the same transaction that
-- starts the instance, whose id is derived from the fire time: exactly once per fire time.
CREATE TABLE orchestrator.schedules (
    workflow_type text        PRIMARY KEY,
    cron          text        NOT NULL,
    next_fire_at  timestamptz NOT NULL,
    last_fired_at timestamptz
);

CREATE TABLE orchestrator.workers (
    id           text        PRIMARY KEY,
    host         text        NOT NULL,
    pid          integer     NOT NULL,
    concurrency  integer     NOT NULL,
    started_at   timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL,
    stopped_at   timestamptz
);

-- Limits on concurrently running tasks per activity group, across all workers.
CREATE TABLE orchestrator.concurrency_limits (
    key         text    PRIMARY KEY,
    pattern     text    NOT NULL,
    max_running integer NOT NULL CHECK (max_running > 0)
);
