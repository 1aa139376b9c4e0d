-- A workflow a `start_workflow` state started and waits for names its parent, the parent's state
-- and visit: when it ends, its result is delivered to exactly that wait.
ALTER TABLE orchestrator.workflows ADD COLUMN parent_id text REFERENCES orchestrator.workflows (id);
ALTER TABLE orchestrator.workflows ADD COLUMN parent_state text;
ALTER TABLE orchestrator.workflows ADD COLUMN parent_visit bigint;
CREATE INDEX workflows_parent ON orchestrator.workflows (parent_id) WHERE parent_id IS NOT NULL;

-- Two more kinds of task, run by the engine itself like timers: `child_result` delivers a child's
-- end to its waiting parent, `signal` delivers a `send_signal` state's signal to its target. Each
-- is a row of the target's own queue, so no transaction ever locks two instances.
ALTER TABLE orchestrator.tasks DROP CONSTRAINT tasks_kind_check;
ALTER TABLE orchestrator.tasks ADD CONSTRAINT tasks_kind_check CHECK (kind IN ('activity', 'timer', 'child_result', 'signal'));

-- Their events: a child started, a child's end received, a signal sent.
ALTER TABLE orchestrator.events DROP CONSTRAINT events_type_check;
ALTER TABLE orchestrator.events ADD CONSTRAINT events_type_check CHECK (type IN (
    'workflow_started', 'state_entered', 'task_scheduled', 'task_started', 'task_completed',
    'task_failed', 'task_dead_lettered', 'signal_received', 'timer_fired', 'dead_letter_retried',
    'dead_letter_discarded', 'workflow_completed', 'workflow_failed', 'workflow_cancelled',
    'child_started', 'child_ended', 'signal_sent'));
