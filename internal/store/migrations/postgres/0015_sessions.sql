-- Sign-in (issue 17): sessions of users signed in with a password, and the
-- failed sign-ins counted against brute force, shared by every node.

CREATE TABLE sessions (
    id           text COLLATE "C" PRIMARY KEY,
    hash         text COLLATE "C" NOT NULL UNIQUE, -- sha256 of the cookie's value
    csrf_hash    text COLLATE "C" NOT NULL,        -- sha256 of the session's CSRF token
    user_id      text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method       text NOT NULL,
    address      text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE sign_in_failures (
    key          text COLLATE "C" NOT NULL, -- account:..., address:..., account_address:...
    window_start timestamptz NOT NULL,      -- clock-aligned
    count        integer NOT NULL,
    PRIMARY KEY (key, window_start)
);
