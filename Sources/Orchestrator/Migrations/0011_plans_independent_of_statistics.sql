-- Plans of the hot statements must not depend on what the statistics say about the queue. After
-- an ANALYZE taken while the queue was empty the planner believes no task is ready or running, and
-- any partial index over open tasks looks free: the claim walked tasks_open and sorted every ready
-- row, the completion's fence walked every running row instead of using the primary key.
--
-- The dashboard's index over unfinished tasks is keyed on completed_at IS NULL, a predicate no
-- hot statement states, so the planner cannot pick it for them; the constraint keeps it exact
-- (a task has completed_at exactly when it is finished). NOT VALID: rows written before this
-- release are not re-read, every write from now on is checked.
DROP INDEX orchestrator.tasks_open;
CREATE INDEX tasks_unfinished ON orchestrator.tasks (run_at) WHERE completed_at IS NULL;
ALTER TABLE orchestrator.tasks ADD CONSTRAINT tasks_completed_at_when_finished
    CHECK ((completed_at IS NULL) = (status IN ('ready', 'failed', 'running'))) NOT VALID;
