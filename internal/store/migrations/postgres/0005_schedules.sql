-- Schedules, timeouts, freshness and provisioning callbacks of sources:
-- migrations/sqlite/0005 in native types.
--
-- Durations are intervals of whole microseconds (the store writes only the
-- microseconds part; it reads a day as 24 hours and a month as 30 days, for
-- values set by hand). Any negative interval is a marker: a schedule_jitter
-- of -1 microsecond, the default, is roster.DefaultJitter.
ALTER TABLE sources
    ADD COLUMN schedule             text NOT NULL DEFAULT '',
    ADD COLUMN schedule_jitter      interval NOT NULL DEFAULT '-1 microsecond',
    ADD COLUMN timeout              interval NOT NULL DEFAULT '0 seconds',
    ADD COLUMN update_cache_timeout interval NOT NULL DEFAULT '0 seconds',
    -- The next tick of the schedule and when it is due (tick plus jitter).
    -- A claim moves next_tick with a conditional UPDATE, so that one node
    -- of several claims each tick.
    ADD COLUMN next_tick            timestamptz,
    ADD COLUMN next_due             timestamptz,
    ADD COLUMN callback_hash        text COLLATE "C",
    ADD COLUMN callback_at          timestamptz,
    -- When the last succeeded or partial run finished, for fresh reads.
    ADD COLUMN last_synced_at       timestamptz;
CREATE UNIQUE INDEX sources_callback ON sources (callback_hash) WHERE callback_hash IS NOT NULL;
-- DueSources lists unplanned sources (no next_due) first.
CREATE INDEX sources_due ON sources (next_due NULLS FIRST) WHERE schedule <> '';

-- The tick a scheduled run is for: each tick runs at most once.
ALTER TABLE sync_runs ADD COLUMN scheduled_for timestamptz;
CREATE UNIQUE INDEX sync_runs_tick ON sync_runs (source_id, scheduled_for) WHERE scheduled_for IS NOT NULL;
CREATE INDEX sync_runs_queued ON sync_runs (created_at) WHERE status = 'queued';
