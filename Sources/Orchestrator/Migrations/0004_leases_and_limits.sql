-- Each claim of a task takes the next lease number; it never goes back (a dead-letter retry resets
-- `attempt`, not this), so the fence `lease_number = $n` refuses every stale attempt.
ALTER TABLE orchestrator.tasks ADD COLUMN lease_number integer NOT NULL DEFAULT 0;

-- Activity limits are a property of the database: any process may set them and every process
-- enforces them. A limit's pattern is stored parsed: `exact` for `http`, `prefix` for `payments.*`
-- (`payments.`) and `*` (the empty prefix).
DROP TABLE orchestrator.concurrency_limits;
ALTER TABLE orchestrator.tasks RENAME COLUMN concurrency_key TO activity_limit;
CREATE TABLE orchestrator.activity_limits (
    pattern     text    PRIMARY KEY,
    exact       text,
    prefix      text,
    max_running integer NOT NULL CHECK (max_running > 0),
    CHECK ((exact IS NULL) <> (prefix IS NULL))
);

-- The limit a task of `activity` counts against: an exact pattern first, then the longest prefix.
-- Tasks carry it in `activity_limit`, written by SQL from this table only (when a task is
-- inserted or requeued, and for every unfinished task when a limit changes), so the stamp always
-- agrees with the table.
CREATE FUNCTION orchestrator.activity_limit_of(activity text) RETURNS text LANGUAGE sql STABLE AS $$ SELECT pattern FROM orchestrator.activity_limits WHERE exact = activity OR starts_with(activity, prefix) ORDER BY exact IS NULL, length(prefix) DESC LIMIT 1 $$;

-- Stamps written from process settings before this migration mean nothing now.
UPDATE orchestrator.tasks SET activity_limit = NULL WHERE activity_limit IS NOT NULL;
