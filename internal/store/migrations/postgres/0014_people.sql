-- People (issue 17): users, teams and role bindings. A token may belong to
-- a user; the tokens that exist (user_id NULL) are service tokens and keep
-- working as before.

CREATE TABLE users (
    id              text COLLATE "C" PRIMARY KEY,
    name            text COLLATE "C" NOT NULL UNIQUE,
    display_name    text NOT NULL DEFAULT '',
    email           text NOT NULL DEFAULT '',
    source          text NOT NULL CHECK (source IN ('local', 'oidc', 'ldap')),
    password_hash   text, -- argon2id PHC string; NULL without a password
    disabled        boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    last_sign_in_at timestamptz
);

CREATE TABLE teams (
    id          text COLLATE "C" PRIMARY KEY,
    name        text COLLATE "C" NOT NULL UNIQUE,
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL
);

CREATE TABLE team_members (
    team_id text COLLATE "C" NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

-- A binding names its subject (a user or a team) and its scope (the
-- server, an inventory or a credential) by kind and id, so no foreign key
-- can: the triggers below delete a binding with what it names.
CREATE TABLE role_bindings (
    id           text COLLATE "C" PRIMARY KEY,
    subject_kind text NOT NULL CHECK (subject_kind IN ('user', 'team')),
    subject_id   text COLLATE "C" NOT NULL,
    role         text NOT NULL,
    scope_kind   text NOT NULL CHECK (scope_kind IN ('server', 'inventory', 'credential')),
    scope_id     text COLLATE "C", -- NULL for the server
    created_at   timestamptz NOT NULL,
    CHECK ((scope_kind = 'server') = (scope_id IS NULL))
);
CREATE UNIQUE INDEX role_bindings_unique ON role_bindings (subject_kind, subject_id, role, scope_kind, coalesce(scope_id, ''));
CREATE INDEX role_bindings_scope ON role_bindings (scope_kind, scope_id);

-- TG_ARGV: the kind of what was deleted, then the column of role_bindings
-- that names it.
CREATE FUNCTION role_bindings_drop() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_ARGV[1] = 'subject' THEN
        DELETE FROM role_bindings WHERE subject_kind = TG_ARGV[0] AND subject_id = OLD.id;
    ELSE
        DELETE FROM role_bindings WHERE scope_kind = TG_ARGV[0] AND scope_id = OLD.id;
    END IF;
    RETURN OLD;
END
$$;
CREATE TRIGGER users_role_bindings AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION role_bindings_drop('user', 'subject');
CREATE TRIGGER teams_role_bindings AFTER DELETE ON teams
    FOR EACH ROW EXECUTE FUNCTION role_bindings_drop('team', 'subject');
CREATE TRIGGER inventories_role_bindings AFTER DELETE ON inventories
    FOR EACH ROW EXECUTE FUNCTION role_bindings_drop('inventory', 'scope');
CREATE TRIGGER credentials_role_bindings AFTER DELETE ON credentials
    FOR EACH ROW EXECUTE FUNCTION role_bindings_drop('credential', 'scope');

ALTER TABLE tokens ADD COLUMN user_id text COLLATE "C" REFERENCES users (id) ON DELETE CASCADE;
CREATE INDEX tokens_user ON tokens (user_id);
