-- The PostgreSQL schema: the SQLite schema (migrations/sqlite, 0001-0004)
-- in native types.
--
-- Times are timestamptz, kept to microseconds like the SQLite store's Unix
-- microseconds. Ids and names are text in the "C" collation: they sort and
-- compare byte by byte, as in SQLite, whatever the database's locale (host
-- pages and sync-run cursors depend on that order), and their indexes skip
-- locale-aware comparison. Documents the store only decodes (source config,
-- run details, credential fields, audit details) are jsonb; host and group
-- vars are json, which keeps the text byte for byte: they pass from the
-- provider to Ansible without being re-encoded.

CREATE TABLE inventories (
    id          text COLLATE "C" PRIMARY KEY,
    name        text COLLATE "C" NOT NULL UNIQUE,
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- Credentials: metadata only. Secret fields live in the secret backend
-- (Vault KV v2, or sealed in secret_blobs by the local backend).
CREATE TABLE credentials (
    id          text COLLATE "C" PRIMARY KEY,
    name        text COLLATE "C" NOT NULL UNIQUE,
    type        text NOT NULL,
    description text NOT NULL DEFAULT '',
    fields      jsonb NOT NULL,
    secrets_set text[] NOT NULL,
    path        text NOT NULL,
    version     integer NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- A source may sync with a credential from the broker; a credential in use
-- cannot be deleted.
CREATE TABLE sources (
    id            text COLLATE "C" PRIMARY KEY,
    inventory_id  text COLLATE "C" NOT NULL REFERENCES inventories (id) ON DELETE CASCADE,
    name          text COLLATE "C" NOT NULL,
    provider      text NOT NULL,
    config        jsonb NOT NULL,
    on_missing    text NOT NULL,
    credential_id text COLLATE "C" REFERENCES credentials (id) ON DELETE RESTRICT,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    UNIQUE (inventory_id, name)
);
CREATE INDEX sources_name ON sources (name);
CREATE INDEX sources_credential ON sources (credential_id);

-- Host ids come from a sequence and are never reused: an id a client saw
-- must not name another machine after its host was removed. A sync takes a
-- block of ids from it before copying its new hosts in.
CREATE SEQUENCE host_ids AS bigint;

-- A source owns its hosts; (source_id, external_id) is the sync's match key.
CREATE TABLE hosts (
    id            bigint PRIMARY KEY DEFAULT nextval('host_ids'),
    inventory_id  text COLLATE "C" NOT NULL,
    source_id     text COLLATE "C" NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    external_id   text COLLATE "C" NOT NULL,
    scope         text COLLATE "C" NOT NULL,
    name          text COLLATE "C" NOT NULL,
    address       text NOT NULL,
    enabled       boolean NOT NULL,
    groups        text[] NOT NULL,
    vars          json NOT NULL,
    hash          text NOT NULL,
    missing_since timestamptz,
    first_seen    timestamptz NOT NULL,
    last_seen     timestamptz NOT NULL,
    UNIQUE (source_id, external_id)
);
ALTER SEQUENCE host_ids OWNED BY hosts.id;
-- Vars are mostly a few kilobytes, so TOAST compresses them: lz4 does that
-- several times faster than the default pglz, both ways (syncs write vars,
-- Ansible reads them all). Servers built without lz4 keep pglz.
DO $$
BEGIN
    ALTER TABLE hosts ALTER COLUMN vars SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR syntax_error THEN -- no lz4; PostgreSQL 13
    NULL;
END $$;
CREATE INDEX hosts_inventory_name ON hosts (inventory_id, name, id);

-- Direct group membership, for filtering hosts by group.
CREATE TABLE host_groups (
    inventory_id text COLLATE "C" NOT NULL,
    group_name   text COLLATE "C" NOT NULL,
    host_id      bigint NOT NULL,
    PRIMARY KEY (inventory_id, group_name, host_id)
);
CREATE INDEX host_groups_host ON host_groups (host_id);

-- Group nesting produced by a source (keyed_groups' parent_group).
CREATE TABLE group_edges (
    inventory_id text COLLATE "C" NOT NULL,
    source_id    text COLLATE "C" NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    parent       text COLLATE "C" NOT NULL,
    child        text COLLATE "C" NOT NULL,
    PRIMARY KEY (inventory_id, parent, child, source_id)
);
CREATE INDEX group_edges_source ON group_edges (source_id);

CREATE TABLE group_vars (
    inventory_id text COLLATE "C" NOT NULL REFERENCES inventories (id) ON DELETE CASCADE,
    name         text COLLATE "C" NOT NULL,
    vars         json NOT NULL,
    PRIMARY KEY (inventory_id, name)
);

-- When each scope of a source was last synced successfully: the last-seen
-- time of its present hosts, without rewriting them.
CREATE TABLE source_scopes (
    source_id text COLLATE "C" NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    scope     text COLLATE "C" NOT NULL,
    synced_at timestamptz NOT NULL,
    PRIMARY KEY (source_id, scope)
);

CREATE TABLE sync_runs (
    id           text COLLATE "C" PRIMARY KEY,
    source_id    text COLLATE "C" NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    inventory_id text COLLATE "C" NOT NULL,
    trigger      text NOT NULL,
    status       text NOT NULL,
    created_at   timestamptz NOT NULL,
    started_at   timestamptz,
    finished_at  timestamptz,
    scopes       jsonb NOT NULL DEFAULT '[]',
    counts       jsonb NOT NULL DEFAULT '{}',
    error        text NOT NULL DEFAULT '',
    warnings     jsonb NOT NULL DEFAULT '[]'
);
-- At most one unfinished run per source: the database keeps a source from
-- syncing twice at once, whichever process asks (CreateSyncRun inserts with
-- ON CONFLICT on this index, which waits for a concurrent inserter's
-- transaction to end).
CREATE UNIQUE INDEX sync_runs_active ON sync_runs (source_id) WHERE status IN ('queued', 'running');
CREATE INDEX sync_runs_source ON sync_runs (source_id, id);
CREATE INDEX sync_runs_inventory ON sync_runs (inventory_id, id);

CREATE TABLE tokens (
    id           text COLLATE "C" PRIMARY KEY,
    name         text COLLATE "C" NOT NULL UNIQUE,
    role         text NOT NULL,
    hash         text COLLATE "C" NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    last_used_at timestamptz
);

CREATE TABLE grants (
    id            text COLLATE "C" PRIMARY KEY,
    token_id      text COLLATE "C" NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    credential_id text COLLATE "C" NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    inventory_id  text COLLATE "C" NOT NULL REFERENCES inventories (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL,
    UNIQUE (token_id, credential_id, inventory_id)
);
CREATE INDEX grants_credential ON grants (credential_id);
CREATE INDEX grants_inventory ON grants (inventory_id);

-- The audit log is append-only: nothing updates or deletes its rows, and
-- it outlives what it names (no foreign keys).
CREATE TABLE audit_events (
    id           text COLLATE "C" PRIMARY KEY,
    time         timestamptz NOT NULL,
    actor        text COLLATE "C" NOT NULL,
    actor_id     text NOT NULL,
    action       text COLLATE "C" NOT NULL,
    outcome      text NOT NULL,
    target_type  text NOT NULL,
    target_id    text COLLATE "C" NOT NULL,
    target_name  text NOT NULL,
    inventory_id text NOT NULL,
    reason       text NOT NULL,
    details      jsonb NOT NULL
);
CREATE INDEX audit_events_actor ON audit_events (actor, id);
CREATE INDEX audit_events_target ON audit_events (target_id, id);

-- The local secret backend's sealed blobs (AES-256-GCM), versioned for
-- check-and-set.
CREATE TABLE secret_blobs (
    path    text COLLATE "C" PRIMARY KEY,
    blob    bytea NOT NULL,
    version integer NOT NULL
);
