package ui_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster/api/ui"
	"github.com/rosterhq/roster/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestRenderEscapes: what clouds and people name (an inventory's
// description, a sync's error, a user name) is text, never markup.
func TestRenderEscapes(t *testing.T) {
	evil := `<script>alert(1)</script>`
	now := time.Now()
	var b bytes.Buffer
	err := ui.Render(&b, "overview", ui.Overview{Page: ui.Page{User: evil, CSRF: "token"}, Failing: 1, Inventories: []ui.Inventory{{
		Name: "prod", Description: evil, Hosts: 1,
		Sources: []ui.Source{{Name: "ec2", Provider: "aws", Status: "failed", Error: evil, LastRun: &now, Pending: "queued"}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "<script>alert") || !strings.Contains(b.String(), "&lt;script&gt;") {
		t.Errorf("the overview does not escape what it shows: %s", b.String())
	}
	for _, want := range []string{`class="failing"`, "1 source failed its last sync", `name="csrf_token" value="token"`, "(queued)", "1 host,"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the overview lacks %s", want)
		}
	}
	b.Reset()
	if err := ui.Render(&b, "sign-in", ui.SignIn{Error: evil, Name: evil, Directories: []ui.Provider{{Name: "local", Kind: "local"}}}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "<script>alert") || strings.Contains(b.String(), "csrf_token") {
		t.Errorf("the sign-in page escapes nothing, or offers a sign-out: %s", b.String())
	}
}

func TestSourceFailing(t *testing.T) {
	for status, want := range map[string]bool{"succeeded": false, "": false, "failed": true, "partial": true, "canceled": true} {
		if got := (ui.Source{Status: status}).Failing(); got != want {
			t.Errorf("Failing of %q = %v, want %v", status, got, want)
		}
	}
}
