package store

import (
	"context"
	"database/sql"
	"time"
)

// The write-ahead log is copied into the database file by the store's own
// checkpointer, not by whichever write crosses SQLite's 1,000-page mark
// (every connection opens with wal_autocheckpoint(0), River's too).
//
// With SQLite's automatic checkpoint, the first write after a process was
// killed pays for the whole log: recovery rebuilds the log's index but not
// how much of it was already copied, so a 100,000-host sync's 300 MB of
// log is copied again by that write, and at startup the first write is
// River's migration, before the API listens (0.56 s of a 1.3 s start). The
// checkpointer does it in the background on a connection of its own: a
// PASSIVE checkpoint blocks no reader and no writer, so neither startup nor
// the commit of a large sync waits for it.

// checkpointEvery is how often the log is copied into the database file.
const checkpointEvery = time.Second

// checkpointer runs a PASSIVE checkpoint on db every interval until ctx is
// done, then closes db and closes done.
func checkpointer(ctx context.Context, db *sql.DB, every time.Duration, done chan<- struct{}) {
	defer close(done)
	defer db.Close()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// A failure (the database busy, a disk error) leaves the log
		// longer; the next tick tries again, and the readers and writers
		// see their own errors.
		db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
	}
}
