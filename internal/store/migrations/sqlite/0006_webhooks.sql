-- Webhooks: metadata only. The URL (a Slack webhook's path is its
-- credential) and the signing secret live in the secret backend at
-- secret_path; url_redacted is scheme://host/… for display.
-- inventory_id is always set (for a webhook of one source, the source's
-- inventory); deleting a source or an inventory deletes its webhooks.
CREATE TABLE webhooks (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    inventory_id       TEXT NOT NULL REFERENCES inventories (id) ON DELETE CASCADE,
    source_id          TEXT REFERENCES sources (id) ON DELETE CASCADE,
    format             TEXT NOT NULL,
    events             TEXT NOT NULL,
    enabled            INTEGER NOT NULL,
    allow_insecure     INTEGER NOT NULL,
    url_redacted       TEXT NOT NULL,
    secret_path        TEXT NOT NULL,
    secret_version     INTEGER NOT NULL,
    has_signing_secret INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    UNIQUE (inventory_id, name)
);
CREATE INDEX webhooks_source ON webhooks (source_id);

-- One row per delivery attempt, newest last by id (UUIDv7). Never the URL,
-- a header or the signing secret.
CREATE TABLE webhook_deliveries (
    id          TEXT PRIMARY KEY,
    webhook_id  TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id    TEXT NOT NULL,
    event       TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    status_code INTEGER NOT NULL,
    outcome     TEXT NOT NULL,
    error       TEXT NOT NULL,
    duration_us INTEGER NOT NULL,
    time        INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (webhook_id, event_id);
CREATE INDEX webhook_deliveries_time ON webhook_deliveries (time);
