-- A source may sync with a credential from the broker. A credential in use
-- cannot be deleted.
ALTER TABLE sources ADD COLUMN credential_id TEXT REFERENCES credentials (id) ON DELETE RESTRICT;
CREATE INDEX sources_credential ON sources (credential_id);
