package notify_test

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/notify"
	"github.com/rosterhq/roster/internal/testenv"
)

const publicURL = "https://roster.example:8443"

// trusting is a TLS config that trusts the CA in caFile only.
func trusting(t *testing.T, caFile string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	must(t, err)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", caFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

func ircTarget(name, server, nick string, secrets roster.SecretFields) notify.WebhookInput {
	return notify.WebhookInput{
		Name: name, Type: roster.TypeIRC, Events: []roster.WebhookEvent{roster.EventSyncFailed},
		Config:  roster.WebhookConfig{IRC: &roster.IRCSettings{Server: server, TLS: true, Nick: nick, Channel: "#ops"}},
		Secrets: secrets,
	}
}

// deliverFailure raises a failed run of prod/ec2 to every subscribed
// target and waits for n jobs to finish.
func (e *env) deliverFailure(t *testing.T, r *riverEnv, n int, maxAttempts int) *roster.SyncRun {
	t.Helper()
	run := e.finishedRun(t, e.src, roster.SyncFailed, roster.SyncCounts{}, "us-east-1: AccessDenied")
	nt := notify.NewNotifier(e.store, r.client, notify.NotifierOptions{Logger: e.log, MaxAttempts: maxAttempts})
	must(t, nt.SyncFinished(t.Context(), run))
	r.waitFinal(t, n)
	return run
}

func TestIRCDeliveredWithNickServ(t *testing.T) {
	e := newEnv(t)
	srv := testenv.IRC(t)
	reader := srv.Join(t, "reader", "#ops", "")
	identified := srv.FakeNickServ(t)
	const nickservPW = "NICKSERV-CANARY-7f3a"
	w := e.webhook(t, ircTarget("chat", srv.TLSAddr, "roster", roster.SecretFields{notify.FieldNickServPassword: nickservPW}))
	if w.URLRedacted != "ircs://"+srv.TLSAddr+"/#ops" {
		t.Errorf("display = %q", w.URLRedacted)
	}
	r := e.startRiver(t, notify.WorkerOptions{PublicURL: publicURL, TLSConfig: trusting(t, srv.CAFile)})
	run := e.deliverFailure(t, r, 1, 8)

	line := reader.WaitLine(t, "PRIVMSG #ops :Roster: Sync of prod/ec2 failed", 10*time.Second)
	if !strings.HasPrefix(line, ":roster!") || !strings.Contains(line, "us-east-1: AccessDenied") {
		t.Errorf("reader got %q", line)
	}
	link := reader.WaitLine(t, "PRIVMSG #ops :", 5*time.Second)
	if !strings.HasSuffix(link, ":"+publicURL+"/ui/runs/"+run.ID) {
		t.Errorf("second line %q is not the run's link", link)
	}
	select {
	case got := <-identified:
		if got != "roster "+nickservPW {
			t.Errorf("NickServ got IDENTIFY %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("NickServ got no IDENTIFY")
	}
	ds := e.deliveries(t, w.ID)
	if len(ds) != 1 || ds[0].Outcome != roster.DeliveryDelivered {
		t.Fatalf("delivery log = %+v", ds)
	}
	for _, d := range ds {
		if strings.Contains(d.Error, nickservPW) {
			t.Errorf("the NickServ password is in the delivery log: %+v", d)
		}
	}
	if strings.Contains(e.logs.String(), nickservPW) {
		t.Error("the NickServ password is in the log")
	}
}

func TestIRCNickTakenFallsBack(t *testing.T) {
	e := newEnv(t)
	srv := testenv.IRC(t)
	srv.Client(t, "roster") // holds the nick
	reader := srv.Join(t, "reader", "#ops", "")
	w := e.webhook(t, ircTarget("chat", srv.TLSAddr, "roster", nil))
	r := e.startRiver(t, notify.WorkerOptions{TLSConfig: trusting(t, srv.CAFile)})
	e.deliverFailure(t, r, 1, 8)
	line := reader.WaitLine(t, "PRIVMSG #ops :Roster:", 10*time.Second)
	if !strings.HasPrefix(line, ":roster_!") {
		t.Errorf("the message came from %q, want the fallback nick roster_", line)
	}
	if ds := e.deliveries(t, w.ID); len(ds) != 1 || ds[0].Outcome != roster.DeliveryDelivered {
		t.Fatalf("delivery log = %+v", ds)
	}
}

func TestIRCNickTooLongIsPermanent(t *testing.T) {
	e := newEnv(t)
	srv := testenv.IRC(t) // NICKLEN 9
	w := e.webhook(t, ircTarget("chat", srv.TLSAddr, "rosternotifier", nil))
	r := e.startRiver(t, notify.WorkerOptions{TLSConfig: trusting(t, srv.CAFile)})
	e.deliverFailure(t, r, 1, 8)
	ds := e.deliveries(t, w.ID)
	if len(ds) != 1 || ds[0].Outcome != roster.DeliveryFailed || ds[0].StatusCode != 432 || !strings.Contains(ds[0].Error, "NICKLEN") {
		t.Fatalf("delivery log = %+v, want one failed attempt with 432 naming NICKLEN", ds)
	}
}

func TestIRCServerDownRetries(t *testing.T) {
	e := newEnv(t)
	srv := testenv.IRC(t)
	w := e.webhook(t, ircTarget("chat", srv.TLSAddr, "roster", nil))
	srv.Stop()
	r := e.startRiver(t, notify.WorkerOptions{TLSConfig: trusting(t, srv.CAFile)})
	e.deliverFailure(t, r, 1, 2)
	ds := e.deliveries(t, w.ID) // newest first
	if len(ds) != 2 || ds[1].Outcome != roster.DeliveryRetrying || !strings.Contains(ds[1].Error, "cannot connect") ||
		ds[0].Outcome != roster.DeliveryFailed || !strings.Contains(ds[0].Error, "gave up after 2 attempts") {
		t.Fatalf("delivery log = %+v, want retrying then failed", ds)
	}
}
