package forward_test

import (
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/forward"
	"github.com/rosterhq/roster/internal/forward/forwardtest"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/vault"
)

// TestServiceAcrossNodes: two nodes on one database, each with its own
// forwarder. A sink created through one starts there at once and on the
// other at its next periodic reload; a changed token (a new secret
// version) replaces the runner; a deletion stops it on both.
func TestServiceAcrossNodes(t *testing.T) {
	st, backend, log := localBackend(t)
	node := func(name string) *forward.Service {
		fw := forward.New(name, log, nil, fast)
		t.Cleanup(func() { fw.Close(t.Context()) })
		svc := forward.NewService(st, backend, fw, log)
		go svc.Run(t.Context(), 100*time.Millisecond)
		return svc
	}
	a, b := node("a"), node("b")
	rcv := forwardtest.HEC(t, "tok-1")
	created, err := a.Create(t.Context(), &roster.EventSink{Name: "splunk", Type: roster.SinkHEC, Enabled: true,
		Streams: []roster.EventStream{roster.StreamAudit}, Config: roster.EventSinkConfig{URL: rcv.URL}},
		roster.SecretFields{roster.SinkSecretToken: "tok-1"})
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := a.Status(created); !ok || !st.Running {
		t.Fatalf("node a does not run the sink it created: %+v", st)
	}
	running := func(svc *forward.Service) bool { st, ok := svc.Status(created); return ok && st.Running }
	waitFor(t, 5*time.Second, "node b to load the sink", func() bool { return running(b) })

	// The token rotates: the receiver and the sink change, and both nodes
	// send with the new one.
	rcv2 := forwardtest.HEC(t, "tok-2")
	cfg := roster.EventSinkConfig{URL: rcv2.URL}
	if _, err := a.Update(t.Context(), created.ID, roster.EventSinkUpdate{Config: &cfg}, roster.SecretFields{roster.SinkSecretToken: "tok-2"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "node b to send with the new token", func() bool {
		b.Forwarder().Audit(auditRecord("from-b"))
		time.Sleep(50 * time.Millisecond)
		return len(rcv2.Events()) > 0
	})

	if err := a.Delete(t.Context(), created.ID); err != nil {
		t.Fatal(err)
	}
	if running(a) {
		t.Fatal("node a still runs a deleted sink")
	}
	waitFor(t, 5*time.Second, "node b to stop the sink", func() bool { return !running(b) })
	if _, _, err := backend.GetSecrets(t.Context(), created.SecretPath); roster.ErrorCode(err) != roster.ENOTFOUND {
		t.Fatalf("the deleted sink's secrets: %v, want ENOTFOUND", err)
	}
}

// TestReloadWithoutASinksSecrets: when one sink's secrets cannot be read
// (the secret backend lost them, or is down), that sink runs on as it
// was and the other sinks' changes apply all the same: a sink deleted
// elsewhere stops.
func TestReloadWithoutASinksSecrets(t *testing.T) {
	st, backend, log := localBackend(t)
	fw := forward.New("a", log, nil, fast)
	t.Cleanup(func() { fw.Close(t.Context()) })
	svc := forward.NewService(st, backend, fw, log)
	rcv := forwardtest.HEC(t, "tok")
	create := func(name string) *roster.EventSink {
		s, err := svc.Create(t.Context(), &roster.EventSink{Name: name, Type: roster.SinkHEC, Enabled: true,
			Streams: []roster.EventStream{roster.StreamAudit}, Config: roster.EventSinkConfig{URL: rcv.URL}},
			roster.SecretFields{roster.SinkSecretToken: "tok"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	kept, gone := create("kept"), create("gone")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(backend.DeleteSecrets(t.Context(), kept.SecretPath))
	must(st.DeleteEventSink(t.Context(), gone.ID)) // as another node does
	if err := svc.Reload(t.Context()); err == nil {
		t.Fatal("a reload that could not read a sink's secrets reports nothing")
	}
	if s, ok := svc.Status(gone); ok && s.Running {
		t.Fatal("a sink deleted elsewhere runs on because another sink's secrets could not be read")
	}
	if s, ok := svc.Status(kept); !ok || !s.Running {
		t.Fatalf("the sink whose secrets could not be read stopped: %+v", s)
	}
}

// localBackend is a SQLite store with the local secret backend over it.
func localBackend(t *testing.T) (*store.SQLite, *vault.Local, *slog.Logger) {
	t.Helper()
	st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, err := vault.GenerateLocalKey()
	if err != nil {
		t.Fatal(err)
	}
	log, _ := newLogger()
	backend, err := vault.NewLocal(st, key, vault.LocalOptions{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return st, backend, log
}
