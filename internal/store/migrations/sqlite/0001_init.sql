-- Times are Unix microseconds (UTC). JSON columns hold compact JSON text.

CREATE TABLE inventories (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE sources (
    id           TEXT PRIMARY KEY,
    inventory_id TEXT NOT NULL REFERENCES inventories (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    provider     TEXT NOT NULL,
    config       TEXT NOT NULL,
    on_missing   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (inventory_id, name)
);
CREATE INDEX sources_name ON sources (name);

-- A source owns its hosts; (source_id, external_id) is the sync's match key.
CREATE TABLE hosts (
    id            INTEGER PRIMARY KEY,
    inventory_id  TEXT NOT NULL,
    source_id     TEXT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    external_id   TEXT NOT NULL,
    scope         TEXT NOT NULL,
    name          TEXT NOT NULL,
    address       TEXT NOT NULL,
    enabled       INTEGER NOT NULL,
    groups        TEXT NOT NULL,
    vars          TEXT NOT NULL,
    hash          TEXT NOT NULL,
    missing_since INTEGER,
    first_seen    INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL,
    UNIQUE (source_id, external_id)
);
CREATE INDEX hosts_inventory_name ON hosts (inventory_id, name, id);

-- Direct group membership, for filtering hosts by group.
CREATE TABLE host_groups (
    inventory_id TEXT NOT NULL,
    group_name   TEXT NOT NULL,
    host_id      INTEGER NOT NULL,
    PRIMARY KEY (inventory_id, group_name, host_id)
) WITHOUT ROWID;
CREATE INDEX host_groups_host ON host_groups (host_id);

-- Group nesting produced by a source (keyed_groups' parent_group).
CREATE TABLE group_edges (
    inventory_id TEXT NOT NULL,
    source_id    TEXT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    parent       TEXT NOT NULL,
    child        TEXT NOT NULL,
    PRIMARY KEY (inventory_id, parent, child, source_id)
) WITHOUT ROWID;
CREATE INDEX group_edges_source ON group_edges (source_id);

CREATE TABLE group_vars (
    inventory_id TEXT NOT NULL REFERENCES inventories (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    vars         TEXT NOT NULL,
    PRIMARY KEY (inventory_id, name)
) WITHOUT ROWID;

-- When each scope of a source was last synced successfully: the last-seen
-- time of its present hosts, without rewriting them.
CREATE TABLE source_scopes (
    source_id TEXT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    scope     TEXT NOT NULL,
    synced_at INTEGER NOT NULL,
    PRIMARY KEY (source_id, scope)
) WITHOUT ROWID;

CREATE TABLE sync_runs (
    id           TEXT PRIMARY KEY,
    source_id    TEXT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    inventory_id TEXT NOT NULL,
    trigger      TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    started_at   INTEGER,
    finished_at  INTEGER,
    scopes       TEXT NOT NULL DEFAULT '[]',
    counts       TEXT NOT NULL DEFAULT '{}',
    error        TEXT NOT NULL DEFAULT '',
    warnings     TEXT NOT NULL DEFAULT '[]'
);
-- At most one unfinished run per source: the database keeps a source from
-- syncing twice at once, whichever process asks.
CREATE UNIQUE INDEX sync_runs_active ON sync_runs (source_id) WHERE status IN ('queued', 'running');
CREATE INDEX sync_runs_source ON sync_runs (source_id, id);
CREATE INDEX sync_runs_inventory ON sync_runs (inventory_id, id);

CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER
);
