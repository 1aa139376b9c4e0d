-- `activity_limit_of` as PL/pgSQL: a SQL function that is not inlined (this one orders and limits)
-- has its query planned again at every execution of the statement calling it, which was 0.45 ms of
-- the 0.6 ms a one-workflow save took; PL/pgSQL keeps the plan for the session. Same lookup: an
-- exact pattern first, then the longest prefix.
CREATE OR REPLACE FUNCTION orchestrator.activity_limit_of(activity text) RETURNS text LANGUAGE plpgsql STABLE AS $$ BEGIN RETURN (SELECT l.pattern FROM orchestrator.activity_limits l WHERE l.exact = activity_limit_of.activity OR starts_with(activity_limit_of.activity, l.prefix) ORDER BY l.exact IS NULL, length(l.prefix) DESC LIMIT 1); END $$;
