-- A session signed in with a user's API token is bound to it: the
-- token's limits cut the session's rights, and the session ends with it.
ALTER TABLE sessions ADD COLUMN token_id text COLLATE "C" REFERENCES tokens (id) ON DELETE CASCADE;
CREATE INDEX sessions_token ON sessions (token_id);
