-- People (issue 17): users, teams and role bindings. A token may belong to
-- a user; the tokens that exist (user_id NULL) are service tokens and keep
-- working as before.

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    display_name    TEXT NOT NULL DEFAULT '',
    email           TEXT NOT NULL DEFAULT '',
    source          TEXT NOT NULL CHECK (source IN ('local', 'oidc', 'ldap')),
    password_hash   TEXT, -- argon2id PHC string; NULL without a password
    disabled        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    last_sign_in_at INTEGER
);

CREATE TABLE teams (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);

CREATE TABLE team_members (
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

-- A binding names its subject (a user or a team) and its scope (the
-- server, an inventory or a credential) by kind and id, so no foreign key
-- can: the triggers below delete a binding with what it names.
CREATE TABLE role_bindings (
    id           TEXT PRIMARY KEY,
    subject_kind TEXT NOT NULL CHECK (subject_kind IN ('user', 'team')),
    subject_id   TEXT NOT NULL,
    role         TEXT NOT NULL,
    scope_kind   TEXT NOT NULL CHECK (scope_kind IN ('server', 'inventory', 'credential')),
    scope_id     TEXT, -- NULL for the server
    created_at   INTEGER NOT NULL,
    CHECK ((scope_kind = 'server') = (scope_id IS NULL))
);
CREATE UNIQUE INDEX role_bindings_unique ON role_bindings (subject_kind, subject_id, role, scope_kind, coalesce(scope_id, ''));
CREATE INDEX role_bindings_scope ON role_bindings (scope_kind, scope_id);

CREATE TRIGGER users_role_bindings AFTER DELETE ON users BEGIN
    DELETE FROM role_bindings WHERE subject_kind = 'user' AND subject_id = OLD.id;
END;
CREATE TRIGGER teams_role_bindings AFTER DELETE ON teams BEGIN
    DELETE FROM role_bindings WHERE subject_kind = 'team' AND subject_id = OLD.id;
END;
CREATE TRIGGER inventories_role_bindings AFTER DELETE ON inventories BEGIN
    DELETE FROM role_bindings WHERE scope_kind = 'inventory' AND scope_id = OLD.id;
END;
CREATE TRIGGER credentials_role_bindings AFTER DELETE ON credentials BEGIN
    DELETE FROM role_bindings WHERE scope_kind = 'credential' AND scope_id = OLD.id;
END;

ALTER TABLE tokens ADD COLUMN user_id TEXT REFERENCES users (id) ON DELETE CASCADE;
CREATE INDEX tokens_user ON tokens (user_id);
