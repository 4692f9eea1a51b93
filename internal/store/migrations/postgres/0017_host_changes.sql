-- Per-host change history (issue 18): what each succeeded sync did to each
-- host of its source, written in the sync's own transaction, kept for the
-- change_retention setting.
--
-- keys are the changed var keys and host fields; diff is {vars, fields:
-- {KEY: {old, new}}, groups_added, groups_removed}, NULL for an added or
-- a removed host, and bounded per host (truncated: some keys' values were
-- left out). diff is json, not jsonb: the values of vars keep their text
-- byte for byte, as in hosts.vars.
--
-- No foreign key on run_id: a first sync copies a row per host in, and
-- checking each against sync_runs would slow every one of them. The
-- trigger below removes a run's changes with the run instead (a run goes
-- with its source, by cascade, which fires it too).

CREATE TABLE host_changes (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id       text COLLATE "C" NOT NULL,
    inventory_id text COLLATE "C" NOT NULL,
    source_id    text COLLATE "C" NOT NULL,
    host_id      bigint NOT NULL,
    host_name    text COLLATE "C" NOT NULL,
    kind         text COLLATE "C" NOT NULL CHECK (kind IN ('added', 'removed', 'changed', 'disabled', 'enabled')),
    keys         text[] NOT NULL DEFAULT '{}',
    diff         json,
    truncated    boolean NOT NULL DEFAULT false,
    at           timestamptz NOT NULL
);
-- A run's changes, by kind then as recorded.
CREATE INDEX host_changes_run ON host_changes (run_id, kind, id);
-- A host's history, newest first.
CREATE INDEX host_changes_host ON host_changes (inventory_id, host_name, id);
-- The retention purge.
CREATE INDEX host_changes_at ON host_changes (at);

CREATE FUNCTION sync_runs_drop_host_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM host_changes WHERE run_id = OLD.id;
    RETURN OLD;
END
$$;
CREATE TRIGGER sync_runs_host_changes AFTER DELETE ON sync_runs
    FOR EACH ROW EXECUTE FUNCTION sync_runs_drop_host_changes();
