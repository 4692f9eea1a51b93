package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/testenv"
)

// BenchmarkPostgresApplyFirstSync is BenchmarkApplyFirstSync on
// PostgreSQL: a first sync of 20,000 hosts with realistic (2.5 KB) vars and
// 8 groups each in one transaction, into a fresh database each time. The
// server is a throwaway one (fsync off), as in the tests. Without and with
// the change history, as BenchmarkApplyFirstSync.
func BenchmarkPostgresApplyFirstSync(b *testing.B) {
	p := testenv.Postgres(b)
	open := func(b *testing.B) roster.Store {
		s, err := store.OpenPostgres(context.Background(), p.CreateDatabase(b))
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	for _, record := range []bool{false, true} {
		b.Run(fmt.Sprintf("history=%v", record), func(b *testing.B) { benchApplyFirstSync(b, open, record) })
	}
}
