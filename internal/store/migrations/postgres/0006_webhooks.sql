-- Webhooks: migrations/sqlite/0006 in native types. Metadata only: the URL
-- (a Slack webhook's path is its credential) and the signing secret live in
-- the secret backend at secret_path; url_redacted is scheme://host/… for
-- display. inventory_id is always set (for a webhook of one source, the
-- source's inventory); deleting a source or an inventory deletes its
-- webhooks, and deleting a webhook its deliveries.
CREATE TABLE webhooks (
    id                 text COLLATE "C" PRIMARY KEY,
    name               text COLLATE "C" NOT NULL,
    inventory_id       text COLLATE "C" NOT NULL REFERENCES inventories (id) ON DELETE CASCADE,
    source_id          text COLLATE "C" REFERENCES sources (id) ON DELETE CASCADE,
    format             text NOT NULL,
    events             text[] NOT NULL,
    enabled            boolean NOT NULL,
    allow_insecure     boolean NOT NULL,
    url_redacted       text NOT NULL,
    secret_path        text NOT NULL,
    secret_version     integer NOT NULL,
    has_signing_secret boolean NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    UNIQUE (inventory_id, name)
);
CREATE INDEX webhooks_source ON webhooks (source_id);

-- One row per delivery attempt, newest last by id (UUIDv7). Never the URL,
-- a header or the signing secret. duration is whole microseconds.
CREATE TABLE webhook_deliveries (
    id          text COLLATE "C" PRIMARY KEY,
    webhook_id  text COLLATE "C" NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id    text COLLATE "C" NOT NULL,
    event       text NOT NULL,
    run_id      text COLLATE "C" NOT NULL,
    attempt     integer NOT NULL,
    status_code integer NOT NULL,
    outcome     text NOT NULL,
    error       text NOT NULL,
    duration    interval NOT NULL,
    time        timestamptz NOT NULL
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (webhook_id, event_id);
CREATE INDEX webhook_deliveries_time ON webhook_deliveries (time);
