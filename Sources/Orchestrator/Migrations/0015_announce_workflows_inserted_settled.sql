-- A start may insert an instance as its first transition leaves it (one statement): an instance
-- that is waiting or has ended from its first state on is announced like one that got there by an
-- update (migration 0010), so a caller waiting for it (`?wait=`) wakes up.
CREATE TRIGGER workflows_announce_inserted_status AFTER INSERT ON orchestrator.workflows
FOR EACH ROW WHEN (NEW.status <> 'running')
EXECUTE FUNCTION orchestrator.announce_workflow_status();
