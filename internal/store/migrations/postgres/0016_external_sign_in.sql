-- External sign-in (issue 17): users linked to the person an OpenID Connect
-- provider or an LDAP directory vouches for, and sign-ins under way (an
-- OIDC browser flow, a device flow of roster login) that any node may end.

ALTER TABLE users ADD COLUMN provider text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN external_id text COLLATE "C" NOT NULL DEFAULT '';
CREATE UNIQUE INDEX users_external ON users (provider, external_id) WHERE external_id <> '';

CREATE TABLE sign_in_flows (
    id         text COLLATE "C" PRIMARY KEY, -- sha256 of the value the flow's owner holds
    kind       text NOT NULL CHECK (kind IN ('oidc', 'device')),
    provider   text NOT NULL DEFAULT '',
    user_code  text COLLATE "C" UNIQUE,      -- device flows only
    data       text NOT NULL DEFAULT '',
    status     text NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
    user_id    text COLLATE "C" REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX sign_in_flows_expires ON sign_in_flows (expires_at);
