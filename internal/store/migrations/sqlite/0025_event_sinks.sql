-- Event sinks: where audit records, finished runs and (optionally) the
-- service's logs are forwarded (syslog, a Splunk HEC, a logstash-style HTTP
-- input). Settings only: a sink's secrets (a HEC token, a password) live in
-- the secret backend at secret_path. streams is a JSON array of stream
-- names, config a JSON object of the type's settings.
CREATE TABLE event_sinks (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    type           TEXT NOT NULL,
    streams        TEXT NOT NULL,
    log_level      TEXT NOT NULL,
    config         TEXT NOT NULL,
    enabled        INTEGER NOT NULL,
    allow_insecure INTEGER NOT NULL,
    queue_size     INTEGER NOT NULL,
    secret_path    TEXT NOT NULL,
    secret_version INTEGER NOT NULL,
    has_secret     INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
