-- The audit log is no longer append-only in the strict sense (issue 13,
-- item 6): a refusal or failure repeated identically within an hour's
-- window is one record whose count and last_time move, and retention
-- removes old records. What was allowed (an issuance, a signature, a
-- change) is still written once and never changed.
--
-- agg_key is the aggregation key of a refusal's or failure's record (NULL
-- for the others: SQLite's unique indexes let NULLs repeat); a caller's
-- keys in one window are a range of its index, which bounds its records.
-- last_time is time for every record never aggregated; retention selects
-- by outcome and last_time.
ALTER TABLE audit_events ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
ALTER TABLE audit_events ADD COLUMN last_time INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit_events ADD COLUMN agg_key TEXT;
UPDATE audit_events SET last_time = time;
CREATE UNIQUE INDEX audit_events_agg_key ON audit_events (agg_key);
CREATE INDEX audit_events_expiry ON audit_events (outcome, last_time);
