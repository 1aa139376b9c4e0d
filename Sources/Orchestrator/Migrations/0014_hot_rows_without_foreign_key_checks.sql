-- Tasks, events and instances are written on the hot path without PostgreSQL's foreign-key
-- checks: each checked row cost a lookup and a row lock on its instance (or definition), four or
-- five per one-step workflow; without them W2 ran 10-25 % faster (docs/performance.md).
-- The engine keeps the rows attached instead:
-- - a transition's tasks and events are inserted by the statement that saves their instance,
--   joined to the instance rows it updated, which its transaction holds locked;
-- - a delivery to another instance locks that instance's key (FOR KEY SHARE) as the check did,
--   so the pruner (FOR UPDATE SKIP LOCKED) cannot delete it meanwhile;
-- - an instance is inserted with the definition version its process installed (definitions are
--   never deleted);
-- - the pruner deletes an instance with all its rows in one statement.
-- The colder tables (signals, dead letters, map items) keep their checks.
ALTER TABLE orchestrator.tasks DROP CONSTRAINT tasks_workflow_id_fkey;
ALTER TABLE orchestrator.events DROP CONSTRAINT events_workflow_id_fkey;
ALTER TABLE orchestrator.workflows DROP CONSTRAINT workflows_type_version_fkey;
