-- Throughput over the last minute and hour reads only recent rows.
CREATE INDEX workflows_completed_at ON orchestrator.workflows (completed_at) WHERE completed_at IS NOT NULL;
CREATE INDEX workers_heartbeat ON orchestrator.workers (heartbeat_at);
