-- Schedules, timeouts, freshness and provisioning callbacks of sources.
-- Durations are microseconds; schedule_jitter -1 is "the default".
ALTER TABLE sources ADD COLUMN schedule TEXT NOT NULL DEFAULT '';
ALTER TABLE sources ADD COLUMN schedule_jitter INTEGER NOT NULL DEFAULT -1;
ALTER TABLE sources ADD COLUMN timeout INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sources ADD COLUMN update_cache_timeout INTEGER NOT NULL DEFAULT 0;
-- The next tick of the schedule and when it is due (tick plus jitter).
ALTER TABLE sources ADD COLUMN next_tick INTEGER;
ALTER TABLE sources ADD COLUMN next_due INTEGER;
ALTER TABLE sources ADD COLUMN callback_hash TEXT;
ALTER TABLE sources ADD COLUMN callback_at INTEGER;
-- When the last succeeded or partial run finished, for fresh reads.
ALTER TABLE sources ADD COLUMN last_synced_at INTEGER;
CREATE UNIQUE INDEX sources_callback ON sources (callback_hash) WHERE callback_hash IS NOT NULL;
CREATE INDEX sources_due ON sources (next_due) WHERE schedule <> '';

-- The tick a scheduled run is for: each tick runs at most once.
ALTER TABLE sync_runs ADD COLUMN scheduled_for INTEGER;
CREATE UNIQUE INDEX sync_runs_tick ON sync_runs (source_id, scheduled_for) WHERE scheduled_for IS NOT NULL;
CREATE INDEX sync_runs_queued ON sync_runs (created_at) WHERE status = 'queued';
