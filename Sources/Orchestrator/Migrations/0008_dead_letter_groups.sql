-- Dead letters as a product: grouped by fingerprint, searchable by their last error message,
-- resolved in bulk with a reason that is kept.

-- An error message with what varies between occurrences masked: quoted values become '?' or "?",
-- UUIDs and every word holding a digit (numbers, ids such as pi_3Nq7…, A-17) become #, and
-- masked parts joined by '.', ':' or '-' (an address, a time) one #.
-- "card 4242 declined for 'ada@example.com'" and "card 1881 declined for 'bob@example.com'"
-- share the pattern "card # declined for '?'".
CREATE FUNCTION orchestrator.error_pattern(message text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURNS NULL ON NULL INPUT
RETURN regexp_replace(
    regexp_replace(
        regexp_replace(
            regexp_replace(
                regexp_replace(message, '''[^'']*''', '''?''', 'g'),
                '"[^"]*"', '"?"', 'g'),
            '[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}', '#', 'g'),
        '\m\w*\d\w*\M', '#', 'g'),
    '#([.:-]#)+', '#', 'g');

ALTER TABLE orchestrator.dead_letters
    -- The last attempt's message: what ops search.
    ADD COLUMN error_message text NOT NULL GENERATED ALWAYS AS (coalesce(attempts -> -1 ->> 'message', '')) STORED,
    ADD COLUMN message_pattern text NOT NULL
        GENERATED ALWAYS AS (orchestrator.error_pattern(coalesce(attempts -> -1 ->> 'message', ''))) STORED,
    -- Same activity, same error code, same message once masked: one group.
    ADD COLUMN fingerprint text NOT NULL GENERATED ALWAYS AS (
        left(md5(activity || chr(31) || error_code || chr(31) || orchestrator.error_pattern(coalesce(attempts -> -1 ->> 'message', ''))), 16)
    ) STORED,
    ADD COLUMN resolution_reason text;
CREATE INDEX dead_letters_open_fingerprint ON orchestrator.dead_letters (fingerprint, id) WHERE status = 'open';

-- Every resolution from the API or the CLI, one row per request: who, when, why, what, how many.
CREATE TABLE orchestrator.dead_letter_actions (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    action      text        NOT NULL CHECK (action IN ('retry', 'discard')),
    actor       text        NOT NULL,
    reason      text        NOT NULL,
    filter      jsonb       NOT NULL,
    input_patch jsonb,
    matched     integer     NOT NULL,
    resolved    integer     NOT NULL,
    failed      integer     NOT NULL,
    at          timestamptz NOT NULL
);
CREATE INDEX dead_letter_actions_at ON orchestrator.dead_letter_actions (at DESC);
