-- Event sinks: migrations/sqlite/0025 in native types. Settings only: a
-- sink's secrets (a HEC token, a password) live in the secret backend at
-- secret_path. config is a JSON object of the type's settings.
CREATE TABLE event_sinks (
    id             text COLLATE "C" PRIMARY KEY,
    name           text COLLATE "C" NOT NULL UNIQUE,
    type           text NOT NULL,
    streams        text[] NOT NULL,
    log_level      text NOT NULL,
    config         jsonb NOT NULL,
    enabled        boolean NOT NULL,
    allow_insecure boolean NOT NULL,
    queue_size     integer NOT NULL,
    secret_path    text NOT NULL,
    secret_version integer NOT NULL,
    has_secret     boolean NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
