-- Per-host change history (issue 18): what each succeeded sync did to each
-- host of its source, written in the sync's own transaction, kept for the
-- change_retention setting.
--
-- keys is a JSON array of the changed var keys and host fields; diff a
-- JSON object {vars, fields: {KEY: {old, new}}, groups_added,
-- groups_removed}, NULL for an added or a removed host, and bounded per
-- host (truncated: some keys' values were left out).
--
-- No foreign key on run_id: a first sync writes a row per host, and
-- checking each against sync_runs would slow every one of them. The
-- trigger below removes a run's changes with the run instead (a run goes
-- with its source, by cascade, which fires it too).

CREATE TABLE host_changes (
    id           INTEGER PRIMARY KEY,
    run_id       TEXT NOT NULL,
    inventory_id TEXT NOT NULL,
    source_id    TEXT NOT NULL,
    host_id      INTEGER NOT NULL,
    host_name    TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('added', 'removed', 'changed', 'disabled', 'enabled')),
    keys         TEXT NOT NULL DEFAULT '[]',
    diff         TEXT,
    truncated    INTEGER NOT NULL DEFAULT 0,
    at           INTEGER NOT NULL
);
-- A run's changes, by kind then as recorded.
CREATE INDEX host_changes_run ON host_changes (run_id, kind, id);
-- A host's history, newest first.
CREATE INDEX host_changes_host ON host_changes (inventory_id, host_name, id);
-- The retention purge.
CREATE INDEX host_changes_at ON host_changes (at);

CREATE TRIGGER sync_runs_host_changes AFTER DELETE ON sync_runs BEGIN
    DELETE FROM host_changes WHERE run_id = OLD.id;
END;
