-- A workflow that stops running (completed, failed, cancelled, dead-lettered or waiting) is
-- announced on the channel orchestrator_workflows with its id as payload, in the transaction that
-- changes its status: callers waiting for its result (`?wait=`) wake up without polling, whatever
-- path changed it (a transition, a cancel, a dead letter, an ops action).
CREATE FUNCTION orchestrator.announce_workflow_status() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('orchestrator_workflows', NEW.id); RETURN NULL; END $$;

CREATE TRIGGER workflows_announce_status AFTER UPDATE OF status ON orchestrator.workflows
FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM OLD.status AND NEW.status <> 'running')
EXECUTE FUNCTION orchestrator.announce_workflow_status();
