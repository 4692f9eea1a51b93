package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources/aws/awssim"
)

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// sshPublicKey is a fresh ed25519 public key in authorized_keys form.
func sshPublicKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

// send is one request to a real server with full control of what is sent:
// the raw body, its content type, the Authorization header as given.
func send(t *testing.T, method, url, auth, contentType, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body)) // "": no body
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// problemField is the first field a problem names.
func problemField(t *testing.T, body string) string {
	t.Helper()
	var p struct {
		Errors []struct{ Field string } `json:"errors"`
	}
	if err := json.Unmarshal([]byte(body), &p); err != nil || len(p.Errors) == 0 {
		t.Fatalf("not a problem naming a field: %s", body)
	}
	return p.Errors[0].Field
}

// TestBoundsAndHeadersOfARealServer checks, against `roster serve`, the
// bounds on what a caller sends and the headers on what it gets (issue
// 13, items 3 and 4).
func TestBoundsAndHeadersOfARealServer(t *testing.T) {
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	dir := t.TempDir()
	db := filepath.Join(dir, "roster.db")
	admin := adminToken(t, bin, "--database", db).Reveal()
	node := startNode(t, bin, "node", db, nil, "--token-max-ttl", "24h")
	api := node.url + "/api/v1"
	bearer := "Bearer " + admin
	sim := httptest.NewServer(awssim.New(awssim.Options{Seed: 1, Size: 5, Regions: []string{"us-east-1"}}))
	t.Cleanup(sim.Close)

	wantProblem := func(t *testing.T, resp *http.Response, status int, field string) {
		t.Helper()
		body := readAll(t, resp)
		if resp.StatusCode != status || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%d %s: %s, want %d problem+json", resp.StatusCode, resp.Header.Get("Content-Type"), body, status)
		}
		if field != "" {
			if got := problemField(t, body); got != field {
				t.Fatalf("the problem names %q, want %q: %s", got, field, body)
			}
		}
	}

	t.Run("token TTL", func(t *testing.T) {
		for _, ttl := range []string{"1ns", "59s", "-1h", "25h", "1000000h"} {
			wantProblem(t, send(t, "POST", api+"/tokens", bearer, "application/json", `{"name":"t","role":"runner","ttl":"`+ttl+`"}`), 400, "ttl")
		}
		resp := send(t, "POST", api+"/tokens", bearer, "application/json", `{"name":"t","role":"runner"}`)
		body := readAll(t, resp)
		var tok struct {
			ExpiresAt *time.Time `json:"expires_at"`
		}
		if err := json.Unmarshal([]byte(body), &tok); err != nil || resp.StatusCode != 201 || tok.ExpiresAt == nil {
			t.Fatalf("%d %s: a token made without a TTL must live the maximum", resp.StatusCode, body)
		}
		if d := time.Until(*tok.ExpiresAt); d < 23*time.Hour || d > 24*time.Hour {
			t.Fatalf("it expires in %s, want 24h", d)
		}
		// The command line makes tokens by the same rules.
		out, err := exec.Command(bin, "token", "create", "--name", "short", "--role", "runner", "--ttl", "1ns", "--database", db).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "--ttl: must be at least 1m") {
			t.Fatalf("roster token create --ttl 1ns: %v\n%s", err, out)
		}
	})

	t.Run("trailing data", func(t *testing.T) {
		for _, ct := range []string{"application/json", ""} {
			wantProblem(t, send(t, "POST", api+"/inventories", bearer, ct, `{"name":"a"} {"name":"b"}`), 400, "body")
			wantProblem(t, send(t, "POST", api+"/inventories", bearer, ct, `{"name":"a"}x`), 400, "body")
		}
		resp := send(t, "GET", api+"/inventories", bearer, "", "")
		if body := readAll(t, resp); strings.Contains(body, `"a"`) || strings.Contains(body, `"b"`) {
			t.Fatalf("a refused body made an inventory: %s", body)
		}
	})

	t.Run("numeric query parameters", func(t *testing.T) {
		wantStatus := func(resp *http.Response, status int) {
			t.Helper()
			if body := readAll(t, resp); resp.StatusCode != status {
				t.Fatalf("%d, want %d: %s", resp.StatusCode, status, body)
			}
		}
		wantStatus(send(t, "POST", api+"/inventories", bearer, "application/json", `{"name":"prod"}`), 201)
		resp := send(t, "POST", api+"/inventories/prod/sources", bearer, "application/json",
			`{"name":"ec2","provider":"aws","config":{"regions":["us-east-1"],"endpoint_url":"`+sim.URL+`"}}`)
		var src struct{ ID string }
		json.Unmarshal([]byte(readAll(t, resp)), &src)
		for _, q := range []string{"max_age=9223372036854775807", "max_age=99999999999999999999", "max_age=31536001", "max_age=-1", "max_age=1e3",
			"limit=0", "limit=1001", "limit=99999999999999999999", "limit=-5"} {
			for _, path := range []string{"/inventories/prod/hosts?", "/inventories/prod/ansible?"} {
				if strings.HasPrefix(q, "limit") && strings.Contains(path, "ansible") {
					continue
				}
				field, _, _ := strings.Cut(q, "=")
				wantProblem(t, send(t, "GET", api+path+q, bearer, "", ""), 400, field)
			}
		}
		// None of them made a sync.
		resp = send(t, "GET", api+"/sources/"+src.ID+"/syncs", bearer, "", "")
		if body := readAll(t, resp); !strings.Contains(body, `"items":[]`) {
			t.Fatalf("a refused read made a sync: %s", body)
		}
		wantProblem(t, send(t, "POST", api+"/inventories/prod/sources", bearer, "application/json",
			`{"name":"ec3","provider":"aws","update_cache_timeout":9223372036854775807,"config":{"regions":["us-east-1"],"endpoint_url":"`+sim.URL+`"}}`), 400, "update_cache_timeout")
	})

	t.Run("malformed tokens", func(t *testing.T) {
		value, _ := roster.NewTokenValue()
		wrong := readAll(t, send(t, "GET", api+"/inventories", "Bearer "+value.Reveal(), "", ""))
		for _, v := range []string{admin[:len(admin)-1], admin + "a", admin + "=", admin[:len(admin)-1] + "=", strings.ToUpper(admin), "rst_", "x", strings.Repeat("a", 4000), admin[:10] + "1" + admin[11:]} {
			resp := send(t, "GET", api+"/inventories", "Bearer "+v, "", "")
			if body := readAll(t, resp); resp.StatusCode != 401 || body != wrong {
				t.Errorf("token %.12q...: %d %s, want the 401 of a wrong token: %s", v, resp.StatusCode, body, wrong)
			}
		}
	})

	t.Run("headers", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz", "/metrics", "/api/v1/inventories", "/api/v1/nowhere", "/elsewhere"} {
			resp := send(t, "GET", node.url+path, bearer, "", "")
			readAll(t, resp)
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("GET %s (%d): X-Content-Type-Options %q", path, resp.StatusCode, got)
			}
		}
		resp := send(t, "GET", node.url+"/api/v1/inventories", "", "", "")
		readAll(t, resp)
		if got := resp.Header.Get("X-Content-Type-Options"); resp.StatusCode != 401 || got != "nosniff" {
			t.Errorf("a refused request: %d, X-Content-Type-Options %q", resp.StatusCode, got)
		}
		resp = send(t, "POST", api+"/tokens", bearer, "application/json", `{"name":"h","role":"runner","ttl":"1h"}`)
		readAll(t, resp)
		if resp.StatusCode != 201 || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("token create: %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
		// Issued secrets and signed certificates.
		for _, c := range []string{
			`{"name":"pw","type":"password","fields":{"username":"u","password":"hunter2"}}`,
			`{"name":"ca","type":"ssh_certificate","fields":{"username":"deploy"}}`,
		} {
			if resp := send(t, "POST", api+"/credentials", bearer, "application/json", c); resp.StatusCode != 201 {
				t.Fatalf("credential: %d %s", resp.StatusCode, readAll(t, resp))
			}
		}
		send(t, "POST", api+"/inventories", bearer, "application/json", `{"name":"web"}`)
		for _, c := range []string{"pw", "ca"} {
			if resp := send(t, "POST", api+"/grants", bearer, "application/json", `{"token":"admin","credential":"`+c+`","inventory":"web"}`); resp.StatusCode != 201 {
				t.Fatalf("grant: %d %s", resp.StatusCode, readAll(t, resp))
			}
		}
		for path, body := range map[string]string{
			"/credentials/pw/issue":    `{"inventory":"web"}`,
			"/credentials/ca/ssh/sign": `{"inventory":"web","public_key":` + strconvQuote(sshPublicKey(t)) + `}`,
		} {
			resp := send(t, "POST", api+path, bearer, "application/json", body)
			b := readAll(t, resp)
			if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("POST %s: %d, Cache-Control %q: %s", path, resp.StatusCode, resp.Header.Get("Cache-Control"), b)
			}
		}
		resp = send(t, "GET", api+"/inventories", bearer, "", "")
		readAll(t, resp)
		if resp.Header.Get("Cache-Control") == "no-store" {
			t.Errorf("what holds no secret is marked no-store too: the header would mean nothing")
		}
	})
}
