-- Credentials: metadata only. Secret fields live in the secret backend
-- (Vault KV v2, or sealed in secret_blobs by the local backend).
CREATE TABLE credentials (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    type        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    fields      TEXT NOT NULL,
    secrets_set TEXT NOT NULL,
    path        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE grants (
    id            TEXT PRIMARY KEY,
    token_id      TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    inventory_id  TEXT NOT NULL REFERENCES inventories (id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    UNIQUE (token_id, credential_id, inventory_id)
);
CREATE INDEX grants_credential ON grants (credential_id);

-- The audit log is append-only: nothing updates or deletes its rows, and
-- it outlives what it names (no foreign keys).
CREATE TABLE audit_events (
    id           TEXT PRIMARY KEY,
    time         INTEGER NOT NULL,
    actor        TEXT NOT NULL,
    actor_id     TEXT NOT NULL,
    action       TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    target_type  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    target_name  TEXT NOT NULL,
    inventory_id TEXT NOT NULL,
    reason       TEXT NOT NULL,
    details      TEXT NOT NULL
);
CREATE INDEX audit_events_actor ON audit_events (actor, id);
CREATE INDEX audit_events_target ON audit_events (target_id, id);

-- The local secret backend's sealed blobs (AES-256-GCM), versioned for
-- check-and-set.
CREATE TABLE secret_blobs (
    path    TEXT PRIMARY KEY,
    blob    BLOB NOT NULL,
    version INTEGER NOT NULL
) WITHOUT ROWID;
