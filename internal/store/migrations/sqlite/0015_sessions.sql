-- Sign-in (issue 17): sessions of users signed in with a password, and the
-- failed sign-ins counted against brute force, shared by every node.

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    hash         TEXT NOT NULL UNIQUE, -- sha256 of the cookie's value
    csrf_hash    TEXT NOT NULL,        -- sha256 of the session's CSRF token
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method       TEXT NOT NULL,
    address      TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE sign_in_failures (
    key          TEXT NOT NULL,    -- account:..., address:..., account_address:...
    window_start INTEGER NOT NULL, -- clock-aligned
    count        INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
);
