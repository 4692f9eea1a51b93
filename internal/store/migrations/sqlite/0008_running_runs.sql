-- The scheduler looks for runs left running long after any job could be
-- working them (RunningSyncRuns), every tick: without this index, a scan
-- of the whole run history.
CREATE INDEX sync_runs_running ON sync_runs (started_at) WHERE status = 'running';
