package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/notify"
	"github.com/rosterhq/roster/internal/testenv"
)

const smtpPassword = "SMTP-CANARY-PASSWORD-91c2"

func emailTarget(srv *testenv.MailServer, security roster.EmailSecurity, user string, password roster.Secret) notify.WebhookInput {
	return notify.WebhookInput{
		Name: "mail", Type: roster.TypeEmail, Events: []roster.WebhookEvent{roster.EventSyncFailed},
		Config: roster.WebhookConfig{Email: &roster.EmailSettings{
			Host: srv.Host, Port: srv.Port, Security: security,
			From: "roster@example.test", To: []string{"ops@example.test", "oncall@example.test"}, Username: user,
		}},
		Secrets: roster.SecretFields{notify.FieldPassword: password},
	}
}

func TestEmailSTARTTLSWithAuth(t *testing.T) {
	e := newEnv(t)
	srv := testenv.SMTP(t, testenv.SMTPOptions{Security: testenv.SMTPStartTLS, Users: map[string]string{"roster": smtpPassword}})
	w := e.webhook(t, emailTarget(srv, roster.EmailSTARTTLS, "roster", smtpPassword))
	if want := "smtp+starttls://" + srv.Addr + " → 2 recipients"; w.URLRedacted != want {
		t.Errorf("display = %q, want %q", w.URLRedacted, want)
	}
	r := e.startRiver(t, notify.WorkerOptions{PublicURL: publicURL, TLSConfig: trusting(t, srv.CAFile)})
	run := e.deliverFailure(t, r, 1, 8)

	m := srv.WaitMessage(t, "[Roster] Sync of prod/ec2 failed", 10*time.Second)
	if !strings.Contains(m.Text, publicURL+"/ui/runs/"+run.ID) || !strings.Contains(m.Text, "us-east-1: AccessDenied") ||
		!strings.Contains(m.Text, "Inventory: prod") {
		t.Errorf("body lacks the link, the error or where:\n%s", m.Text)
	}
	if m.From.Address != "roster@example.test" || len(m.To) != 2 {
		t.Errorf("from %v to %v", m.From, m.To)
	}
	if got := m.MessageID; got != notify.EventID(run.ID, roster.EventSyncFailed)+"@roster" {
		t.Errorf("Message-ID = %q", got)
	}
	if h := m.Headers["Auto-Submitted"]; len(h) != 1 || h[0] != "auto-generated" {
		t.Errorf("Auto-Submitted = %v", h)
	}
	ds := e.deliveries(t, w.ID)
	if len(ds) != 1 || ds[0].Outcome != roster.DeliveryDelivered || ds[0].StatusCode != 250 {
		t.Fatalf("delivery log = %+v", ds)
	}
	if strings.Contains(e.logs.String(), smtpPassword) {
		t.Error("the SMTP password is in the log")
	}
}

func TestEmailWrongPasswordIsPermanent(t *testing.T) {
	e := newEnv(t)
	srv := testenv.SMTP(t, testenv.SMTPOptions{Security: testenv.SMTPStartTLS, Users: map[string]string{"roster": "the-right-one"}})
	w := e.webhook(t, emailTarget(srv, roster.EmailSTARTTLS, "roster", smtpPassword))
	r := e.startRiver(t, notify.WorkerOptions{TLSConfig: trusting(t, srv.CAFile)})
	e.deliverFailure(t, r, 1, 8)
	ds := e.deliveries(t, w.ID)
	if len(ds) != 1 || ds[0].Outcome != roster.DeliveryFailed || ds[0].StatusCode != 535 || !strings.HasPrefix(ds[0].Error, "smtp: the server answered 535") {
		t.Fatalf("delivery log = %+v, want one permanent 535", ds)
	}
	if strings.Contains(ds[0].Error, smtpPassword) || strings.Contains(e.logs.String(), smtpPassword) {
		t.Error("the password leaked")
	}
	if n := len(srv.Messages(t)); n != 0 {
		t.Errorf("%d messages arrived", n)
	}
}

func TestEmailWithoutSTARTTLSIsRefused(t *testing.T) {
	e := newEnv(t)
	srv := testenv.SMTP(t, testenv.SMTPOptions{Security: testenv.SMTPPlain})
	w := e.webhook(t, emailTarget(srv, roster.EmailSTARTTLS, "", ""))
	r := e.startRiver(t, notify.WorkerOptions{})
	e.deliverFailure(t, r, 1, 8)
	ds := e.deliveries(t, w.ID)
	if len(ds) != 1 || ds[0].Outcome != roster.DeliveryFailed || !strings.Contains(ds[0].Error, "offers no STARTTLS") {
		t.Fatalf("delivery log = %+v, want one permanent refusal", ds)
	}
	if n := len(srv.Messages(t)); n != 0 {
		t.Errorf("%d messages arrived in clear", n)
	}
}

func TestEmailImplicitTLS(t *testing.T) {
	e := newEnv(t)
	srv := testenv.SMTP(t, testenv.SMTPOptions{Security: testenv.SMTPImplicitTLS, Users: map[string]string{"roster": smtpPassword}})
	w := e.webhook(t, emailTarget(srv, roster.EmailTLS, "roster", smtpPassword))
	r := e.startRiver(t, notify.WorkerOptions{TLSConfig: trusting(t, srv.CAFile)})
	e.deliverFailure(t, r, 1, 8)
	srv.WaitMessage(t, "Sync of prod/ec2 failed", 10*time.Second)
	if ds := e.deliveries(t, w.ID); len(ds) != 1 || ds[0].Outcome != roster.DeliveryDelivered {
		t.Fatalf("delivery log = %+v", ds)
	}
}

func TestEmailNoPasswordWithoutTLS(t *testing.T) {
	e := newEnv(t)
	in := emailTarget(&testenv.MailServer{Host: "127.0.0.1", Port: 25}, roster.EmailNone, "roster", smtpPassword)
	in.InventoryID = e.inv.ID
	_, err := e.svc.Create(t.Context(), in)
	if fe := fieldsOf(err); len(fe) != 1 || fe[0] != "email.security" {
		t.Fatalf("security none with a password: %v, want a field error on email.security", err)
	}
}

func fieldsOf(err error) []string {
	var out []string
	for _, fe := range roster.ErrorFields(err) {
		out = append(out, fe.Field)
	}
	return out
}
