-- The activities each worker runs, so "why is this task late" can say that no live worker runs
-- its activity. NULL: a worker of an earlier release, which may run anything.
ALTER TABLE orchestrator.workers ADD COLUMN activities text[];
