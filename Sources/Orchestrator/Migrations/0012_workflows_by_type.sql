-- GET /v1/workflows?type= lists one type newest first: this index serves it in its order (the
-- (type, status, …) index serves a type and a status).
CREATE INDEX workflows_type_list ON orchestrator.workflows (type, created_at DESC, id DESC);
