-- Idempotency keys are unique where given; most instances have none (a job enqueued in bulk, a
-- child, a schedule's fire). The unique index of the column held an entry for every row, NULL
-- included, and every non-HOT write of the row (an instance's end) added one more: two index
-- entries per keyless instance for nothing. A partial index is as unique (NULLs never conflict),
-- serves `WHERE idempotency_key = $1` (a key given is not NULL), and is an arbiter of the starts'
-- `ON CONFLICT DO NOTHING` like the constraint was.
CREATE UNIQUE INDEX workflows_idempotency_key ON orchestrator.workflows (idempotency_key) WHERE idempotency_key IS NOT NULL;
ALTER TABLE orchestrator.workflows DROP CONSTRAINT workflows_idempotency_key_key;
