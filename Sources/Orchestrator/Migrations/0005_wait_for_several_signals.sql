-- A `wait_for` may wait for several signals: the instance row lists them all.
ALTER TABLE orchestrator.workflows ALTER COLUMN waiting_for DROP DEFAULT;
ALTER TABLE orchestrator.workflows ALTER COLUMN waiting_for TYPE text[]
    USING CASE WHEN waiting_for IS NULL THEN '{}'::text[] ELSE ARRAY[waiting_for] END;
ALTER TABLE orchestrator.workflows ALTER COLUMN waiting_for SET DEFAULT '{}';
ALTER TABLE orchestrator.workflows ALTER COLUMN waiting_for SET NOT NULL;

-- Stored definitions (instances finish on the version they started with) move to the new form of
-- the `waitFor` kind: `signal` becomes the list `signals`, and a `timeout` duration becomes the
-- `Delay` `{"duration": {"_0": …}}`.
UPDATE orchestrator.definitions AS d SET definition = jsonb_set(d.definition, '{states}', (
    SELECT jsonb_object_agg(s.name, CASE
        WHEN s.state->'kind' ? 'waitFor' THEN jsonb_set(s.state, '{kind,waitFor}', jsonb_strip_nulls(jsonb_build_object(
            'signals', jsonb_build_array(s.state->'kind'->'waitFor'->'signal'),
            'onTimeout', s.state->'kind'->'waitFor'->'onTimeout',
            'timeout', CASE WHEN s.state->'kind'->'waitFor' ? 'timeout'
                            THEN jsonb_build_object('duration', jsonb_build_object('_0', s.state->'kind'->'waitFor'->'timeout')) END)))
        ELSE s.state END)
    FROM jsonb_each(d.definition->'states') AS s(name, state)))
WHERE EXISTS (SELECT 1 FROM jsonb_each(d.definition->'states') AS s(name, state) WHERE s.state->'kind' ? 'waitFor');
