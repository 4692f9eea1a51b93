-- Host ids are handed out from a sequence, never reused: an id a client
-- saw must not name another machine after its host was removed.
CREATE TABLE sequences (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO sequences (name, value) SELECT 'hosts', COALESCE(MAX(id), 0) FROM hosts;
