-- Notification targets: migrations/sqlite/0024 in native types. A webhook
-- gains a type and the non-secret settings of that type (JSON); secrets stay
-- in the secret backend. format is kept and still written.
ALTER TABLE webhooks ADD COLUMN type text NOT NULL DEFAULT '';
UPDATE webhooks SET type = CASE format WHEN 'generic' THEN 'webhook' ELSE format END;
ALTER TABLE webhooks ADD COLUMN config jsonb NOT NULL DEFAULT '{}';
