-- Unfinished tasks, whatever their concurrency group: the dashboard's queue depths and late tasks
-- read only these, so their cost follows the live queue, not the history.
CREATE INDEX tasks_open ON orchestrator.tasks (run_at) WHERE status IN ('ready', 'failed', 'running');
