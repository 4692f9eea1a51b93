-- Notification targets (issue 20): a webhook gains a type (webhook, slack,
-- mattermost, rocketchat, teams, pagerduty, irc, email) and the settings
-- of that type that are not secret, as JSON. Secrets (URLs, passwords,
-- routing keys) stay in the secret backend at secret_path. format is kept
-- and still written (generic for webhook, else the type) for older readers.
ALTER TABLE webhooks ADD COLUMN type TEXT NOT NULL DEFAULT '';
UPDATE webhooks SET type = CASE format WHEN 'generic' THEN 'webhook' ELSE format END;
ALTER TABLE webhooks ADD COLUMN config TEXT NOT NULL DEFAULT '{}';
