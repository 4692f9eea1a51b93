package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/client"
	"github.com/rosterhq/roster/internal/testenv"
	"github.com/rosterhq/roster/vault/vaulttest"
)

// brokerBench is a Roster server on a Vault dev server, with an admin and
// a runner token, an inventory "prod", an ssh_certificate credential "ca"
// and a password credential "db" granted to the runner for prod.
type brokerBench struct {
	srv    *testenv.VaultServer
	setup  *vaulttest.Setup
	m      *Main
	runner *client.Client
}

func newBrokerBench(b *testing.B) *brokerBench {
	srv := testenv.Vault(b)
	setup := vaulttest.Configure(b, srv, vaulttest.Options{AllowedUsers: []string{"deploy"}})
	m := vaultMain(b, setup)
	adminValue, hash := roster.NewTokenValue()
	if err := m.Store.CreateToken(b.Context(), &roster.Token{Name: "admin", Role: roster.RoleAdmin}, hash); err != nil {
		b.Fatal(err)
	}
	admin := client.New(m.URL, adminValue)
	runnerValue, hash := roster.NewTokenValue()
	if err := m.Store.CreateToken(b.Context(), &roster.Token{Name: "runner", Role: roster.RoleRunner}, hash); err != nil {
		b.Fatal(err)
	}
	for _, step := range []struct {
		path string
		body any
	}{
		{"/inventories", map[string]any{"name": "prod"}},
		{"/credentials", map[string]any{"name": "ca", "type": "ssh_certificate", "fields": map[string]string{"username": "deploy", "role": setup.SSHRole, "ttl": "10m"}}},
		{"/grants", map[string]string{"token": "runner", "credential": "ca", "inventory": "prod"}},
		{"/credentials", map[string]any{"name": "db", "type": "password", "fields": map[string]string{"username": "app", "password": "S3CR3T-db-password"}}},
		{"/grants", map[string]string{"token": "runner", "credential": "db", "inventory": "prod"}},
	} {
		if err := admin.Do(b.Context(), "POST", step.path, step.body, nil); err != nil {
			b.Fatal(err)
		}
	}
	return &brokerBench{srv: srv, setup: setup, m: m, runner: client.New(m.URL, runnerValue)}
}

// vaultDo sends one request to Vault directly with the root token and
// decodes its JSON answer into out: the baseline's client, a keep-alive
// http.Client.
func (bb *brokerBench) vaultDo(b *testing.B, httpc *http.Client, method, path string, body []byte, out any) {
	var rd *bytes.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, bb.srv.Addr+"/v1/"+path, rd)
	req.Header.Set("X-Vault-Token", bb.srv.RootToken)
	resp, err := httpc.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("vault answered %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSSHSign compares SSH certificate issuance through Roster's
// broker (HTTP API: token, grant check, policy, audit record, Vault's SSH
// engine) with the same signature asked of Vault directly over HTTP, in the
// same run against the same Vault dev server (see runPair).
//
//	ROSTER_REQUIRE_INTEGRATION=1 go test -run '^$' -bench SSHSign -benchtime 300x -count 3 ./cmd/roster
func BenchmarkSSHSign(b *testing.B) {
	bb := newBrokerBench(b)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	sshPub, _ := ssh.NewPublicKey(pub)
	key := string(ssh.MarshalAuthorizedKey(sshPub))

	body, _ := json.Marshal(map[string]any{"public_key": key, "valid_principals": "deploy", "ttl": "10m", "cert_type": "user"})
	httpc := &http.Client{}
	direct := func(b *testing.B) {
		var out struct {
			Data struct {
				SignedKey string `json:"signed_key"`
			} `json:"data"`
		}
		bb.vaultDo(b, httpc, "POST", bb.setup.SSHMount+"/sign/"+bb.setup.SSHRole, body, &out)
		if out.Data.SignedKey == "" {
			b.Fatal("vault signed nothing")
		}
	}
	brokered := func(b *testing.B) {
		var out struct {
			Certificate string `json:"certificate"`
		}
		if err := bb.runner.Do(b.Context(), "POST", "/credentials/ca/ssh/sign", map[string]any{"inventory": "prod", "public_key": key}, &out); err != nil {
			b.Fatal(err)
		}
		if out.Certificate == "" {
			b.Fatal("no certificate")
		}
	}
	runPair(b, direct, brokered)
}

// BenchmarkKVIssue compares issuing a password credential through Roster's
// broker (POST /credentials/{name}/issue: token, grant check, audit record,
// Vault KV v2 read) with a read of the same secret from Vault's KV v2
// engine directly, in the same run against the same Vault dev server.
//
//	ROSTER_REQUIRE_INTEGRATION=1 go test -run '^$' -bench KVIssue -benchtime 300x -count 3 ./cmd/roster
func BenchmarkKVIssue(b *testing.B) {
	bb := newBrokerBench(b)
	db, err := bb.m.Store.Credential(b.Context(), "db")
	if err != nil {
		b.Fatal(err)
	}
	// The path the broker reads: the credential's, under the prefix.
	kvPath := bb.setup.KVMount + "/data/" + bb.setup.PathPrefix + "/" + db.Path

	httpc := &http.Client{}
	direct := func(b *testing.B) {
		var out struct {
			Data struct {
				Data map[string]string `json:"data"`
			} `json:"data"`
		}
		bb.vaultDo(b, httpc, "GET", kvPath, nil, &out)
		if out.Data.Data["password"] != "S3CR3T-db-password" {
			b.Fatal("vault read no password")
		}
	}
	brokered := func(b *testing.B) {
		var out struct {
			Fields map[string]string `json:"fields"`
		}
		if err := bb.runner.Do(b.Context(), "POST", "/credentials/db/issue", map[string]any{"inventory": "prod"}, &out); err != nil {
			b.Fatal(err)
		}
		if out.Fields["password"] != "S3CR3T-db-password" {
			b.Fatal("no password")
		}
	}
	runPair(b, direct, brokered)
}

// runPair runs the baseline (vault-direct) and the call through Roster
// (roster-broker) each on its own, then both alternately (paired): one of
// each per iteration, reporting the median of each and the ratio of the
// medians, so that a change of the machine's load during the run (it is
// shared) weighs on both alike.
func runPair(b *testing.B, direct, brokered func(*testing.B)) {
	b.Run("vault-direct", func(b *testing.B) {
		for b.Loop() {
			direct(b)
		}
	})
	b.Run("roster-broker", func(b *testing.B) {
		for b.Loop() {
			brokered(b)
		}
	})
	b.Run("paired", func(b *testing.B) {
		var d, r []time.Duration
		for b.Loop() {
			t0 := time.Now()
			direct(b)
			t1 := time.Now()
			brokered(b)
			d, r = append(d, t1.Sub(t0)), append(r, time.Since(t1))
		}
		md, mr := median(d), median(r)
		b.ReportMetric(float64(md.Microseconds()), "direct-µs")
		b.ReportMetric(float64(mr.Microseconds()), "broker-µs")
		b.ReportMetric(float64(mr)/float64(md), "ratio")
	})
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
