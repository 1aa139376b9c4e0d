-- A map's progress is kept on its workflow and its items' inputs are resolved once, when the map
-- state is entered, so an item's completion costs the same whatever the map's size: no sibling
-- result is read (they are assembled once, when the last item completes) and the context is not
-- read at all.
--
-- map_progress: {"visit": v, "items": n, "scheduled": s, "completed": c, "dead": d} for the map
-- state of visit v (NULL for a map entered before this migration, which goes on the old way).
ALTER TABLE orchestrator.workflows ADD COLUMN map_progress jsonb;

-- The inputs of the items of a map not scheduled yet, taken in order as slots free up.
CREATE TABLE orchestrator.map_items (
    workflow_id text    NOT NULL REFERENCES orchestrator.workflows (id),
    visit       bigint  NOT NULL,
    item_index  integer NOT NULL,
    input       jsonb   NOT NULL,
    PRIMARY KEY (workflow_id, visit, item_index)
);
