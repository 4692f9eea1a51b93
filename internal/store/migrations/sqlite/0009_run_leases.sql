-- A run has a holder and a lease: the process working it renews lease_until
-- while it works, and any process may fail a run whose lease ended (its
-- holder died or lost the database). Times are microseconds.
ALTER TABLE sync_runs ADD COLUMN holder TEXT NOT NULL DEFAULT '';
ALTER TABLE sync_runs ADD COLUMN lease_until INTEGER;
-- Retries are runs of their own: attempt counts the tries of one sync,
-- retry_of links a retry to the attempt before (once: a run is retried at
-- most once), not_before is when a queued retry's backoff ends.
ALTER TABLE sync_runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE sync_runs ADD COLUMN retry_of TEXT;
ALTER TABLE sync_runs ADD COLUMN not_before INTEGER;
CREATE UNIQUE INDEX sync_runs_retry_of ON sync_runs (retry_of) WHERE retry_of IS NOT NULL;
-- next_attempt, on a finished run, is the attempt its retry is to be while
-- that retry is owed: recorded with the failure, settled in the transaction
-- that records the retry, so a retry is never lost to a crash in between.
ALTER TABLE sync_runs ADD COLUMN next_attempt INTEGER;
CREATE INDEX sync_runs_owed ON sync_runs (finished_at) WHERE next_attempt IS NOT NULL;

-- Runs left running by a version without leases: their holder may still
-- be working them (its longest timeout was 2 hours), so their lease ends
-- 3 hours after they started.
UPDATE sync_runs SET lease_until = COALESCE(started_at, created_at) + 10800000000 WHERE status = 'running';

-- Expired leases are looked for every scheduler tick.
DROP INDEX sync_runs_running;
CREATE INDEX sync_runs_lease ON sync_runs (lease_until) WHERE status IN ('queued', 'running');
