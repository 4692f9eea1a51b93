package api_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
)

// distinctive secret values: any of them in a log, an error or a response
// other than the issuing one is a leak.
var leakValues []string

func secret(name string) string {
	v := fmt.Sprintf("S3CR3T-%s-%d", name, time.Now().UnixNano())
	leakValues = append(leakValues, v)
	return v
}

func privateKeyPEM(t *testing.T, passphrase string) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "test")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block))
}

func publicKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(ssh.MarshalAuthorizedKey(sshPub))
}

func TestCredentialInputErrors(t *testing.T) {
	f := newFixture(t)
	post := func(body map[string]any) response { return f.do("POST", "/api/v1/credentials", f.admin, body) }
	wantField(t, post(map[string]any{"name": "x", "type": "kerberos", "fields": map[string]string{}}), "type")
	wantField(t, post(map[string]any{"name": "x", "type": "password", "fields": map[string]string{"username": "u"}}), "fields.password")
	wantField(t, post(map[string]any{"name": "x", "type": "password", "fields": map[string]string{"username": "u", "password": "p", "colour": "red"}}), "fields.colour")
	wantField(t, post(map[string]any{"name": "x", "type": "ssh_key", "fields": map[string]string{"username": "u", "private_key": "not a key " + secret("badkey")}}), "fields.private_key")
	wantField(t, post(map[string]any{"name": "x", "type": "ssh_key", "fields": map[string]string{"username": "u", "private_key": privateKeyPEM(t, "pw")}}), "fields.passphrase")
	wantField(t, post(map[string]any{"name": "x", "type": "ssh_certificate", "fields": map[string]string{"username": "u", "ttl": "forever"}}), "fields.ttl")
	wantField(t, post(map[string]any{"name": "x", "type": "gcp", "fields": map[string]string{"service_account_json": `{"type":"user","k":"` + secret("gcp") + `"}`}}), "fields.service_account_json")
	wantField(t, post(map[string]any{"name": "x", "type": "aws", "fields": map[string]string{"secret_access_key": secret("awsonly")}}), "fields.access_key_id")
	wantField(t, post(map[string]any{"name": "bad name", "type": "token", "fields": map[string]string{"token": "t"}}), "name")
	var list api.CredentialList
	f.do("GET", "/api/v1/credentials", f.admin, nil).json(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("invalid requests created %d credentials", len(list.Items))
	}
}

func TestCredentialSecretsAreWriteOnly(t *testing.T) {
	f := newFixture(t)
	pw := secret("password")
	r := f.do("POST", "/api/v1/credentials", f.admin, map[string]any{"name": "db", "type": "password", "fields": map[string]string{"username": "app", "password": pw}})
	wantStatus(t, r, http.StatusCreated)
	var c api.Credential
	r.json(t, &c)
	if c.Fields["username"] != "app" || !slices.Equal(c.SecretsSet, []string{"password"}) || c.Version != 1 || c.Backend != "local" {
		t.Fatalf("created = %+v", c)
	}
	for _, path := range []string{"/api/v1/credentials", "/api/v1/credentials/db"} {
		if r := f.do("GET", path, f.admin, nil); strings.Contains(string(r.body), pw) {
			t.Fatalf("GET %s returns the secret", path)
		}
	}
	// An update without the secret keeps it; with it, replaces it.
	r = f.do("PATCH", "/api/v1/credentials/db", f.admin, map[string]any{"fields": map[string]string{"username": "app2"}})
	wantStatus(t, r, http.StatusOK)
	r.json(t, &c)
	if c.Version != 1 || c.Fields["username"] != "app2" {
		t.Fatalf("after a non-secret update: %+v", c)
	}
	pw2 := secret("password2")
	r = f.do("PATCH", "/api/v1/credentials/db", f.admin, map[string]any{"fields": map[string]string{"password": pw2}})
	wantStatus(t, r, http.StatusOK)
	r.json(t, &c)
	if c.Version != 2 {
		t.Fatalf("after a secret update, version %d, want 2", c.Version)
	}
	runner := f.token("runner", roster.RoleRunner)
	f.inventory("prod")
	wantStatus(t, f.do("POST", "/api/v1/grants", f.admin, map[string]string{"token": "runner", "credential": "db", "inventory": "prod"}), http.StatusCreated)
	r = f.do("POST", "/api/v1/credentials/db/issue", runner, map[string]any{"inventory": "prod"})
	wantStatus(t, r, http.StatusOK)
	var issued api.IssuedCredential
	r.json(t, &issued)
	if (*issued.Fields)["password"] != pw2 || (*issued.Fields)["username"] != "app2" || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("issued = %+v, cache-control %q", issued, r.header.Get("Cache-Control"))
	}
	wantStatus(t, f.do("DELETE", "/api/v1/credentials/db", f.admin, nil), http.StatusNoContent)
	wantStatus(t, f.do("POST", "/api/v1/credentials/db/issue", runner, map[string]any{"inventory": "prod"}), http.StatusNotFound)
}

// TestBrokerAuthorizationMatrix: every broker endpoint, every role, with and
// without a grant. Only a runner or admin holding a grant for the
// inventory gets a credential; everything refused is audited.
func TestBrokerAuthorizationMatrix(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	f.inventory("dev")
	wantStatus(t, f.do("POST", "/api/v1/credentials", f.admin, map[string]any{"name": "key", "type": "ssh_key",
		"fields": map[string]string{"username": "deploy", "private_key": privateKeyPEM(t, "")}}), http.StatusCreated)
	wantStatus(t, f.do("POST", "/api/v1/credentials", f.admin, map[string]any{"name": "ca", "type": "ssh_certificate",
		"fields": map[string]string{"username": "deploy", "principals": "deploy,backup", "ttl": "20m"}}), http.StatusCreated)

	roles := []roster.Role{roster.RoleAdmin, roster.RoleOperator, roster.RoleAuditor, roster.RoleRunner}
	tokens := map[string]string{}
	for _, role := range roles {
		for _, granted := range []bool{false, true} {
			name := fmt.Sprintf("%s-%v", role, granted)
			tokens[name] = f.token(name, role)
			if granted {
				for _, cred := range []string{"key", "ca"} {
					wantStatus(t, f.do("POST", "/api/v1/grants", f.admin, map[string]string{"token": name, "credential": cred, "inventory": "prod"}), http.StatusCreated)
				}
			}
		}
	}
	pub := publicKey(t)
	for _, role := range roles {
		for _, granted := range []bool{false, true} {
			name := fmt.Sprintf("%s-%v", role, granted)
			tok := tokens[name]
			mayUse := granted && (role == roster.RoleRunner || role == roster.RoleAdmin)
			// A runner sees only the credentials it holds grants of: any
			// other answers as absent, so that its existence cannot be probed.
			hidden := role == roster.RoleRunner && !granted
			check := func(what string, r response, allowed bool) {
				t.Helper()
				switch {
				case allowed && (r.status < 200 || r.status > 299):
					t.Errorf("%s as %s: %d, want success (%s)", what, name, r.status, r.body)
				case !allowed && hidden && r.status != http.StatusNotFound:
					t.Errorf("%s as %s: %d, want 404 (%s)", what, name, r.status, r.body)
				case !allowed && !hidden && r.status != http.StatusForbidden:
					t.Errorf("%s as %s: %d, want 403 (%s)", what, name, r.status, r.body)
				}
			}
			check("issue for prod", f.do("POST", "/api/v1/credentials/key/issue", tok, map[string]any{"inventory": "prod"}), mayUse)
			check("issue for dev", f.do("POST", "/api/v1/credentials/key/issue", tok, map[string]any{"inventory": "dev"}), false)
			check("sign for prod", f.do("POST", "/api/v1/credentials/ca/ssh/sign", tok, map[string]any{"inventory": "prod", "public_key": pub}), mayUse)
			check("sign for dev", f.do("POST", "/api/v1/credentials/ca/ssh/sign", tok, map[string]any{"inventory": "dev", "public_key": pub}), false)
			check("read metadata", f.do("GET", "/api/v1/credentials/key", tok, nil), !hidden)
			check("CA public key", f.do("GET", "/api/v1/credentials/ca/ssh/ca", tok, nil), !hidden)
			hidden = false // what follows names no credential in its path
			check("create", f.do("POST", "/api/v1/credentials", tok, map[string]any{"name": "n-" + name, "type": "token", "fields": map[string]string{"token": "x"}}),
				role == roster.RoleAdmin || role == roster.RoleOperator)
			check("grant", f.do("POST", "/api/v1/grants", tok, map[string]string{"token": name, "credential": "key", "inventory": "dev"}), role == roster.RoleAdmin)
			check("audit", f.do("GET", "/api/v1/audit", tok, nil), role == roster.RoleAdmin || role == roster.RoleAuditor)
		}
	}
	// The runner's principals and lifetime stay within the credential's.
	runner := tokens["runner-true"]
	wantField(t, f.do("POST", "/api/v1/credentials/ca/ssh/sign", runner, map[string]any{"inventory": "prod", "public_key": pub, "principals": []string{"root"}}), "principals[0]")
	wantField(t, f.do("POST", "/api/v1/credentials/ca/ssh/sign", runner, map[string]any{"inventory": "prod", "public_key": pub, "ttl": "1h"}), "ttl")
	wantField(t, f.do("POST", "/api/v1/credentials/ca/ssh/sign", runner, map[string]any{"inventory": "prod", "public_key": "ssh-rsa nonsense"}), "public_key")
	r := f.do("POST", "/api/v1/credentials/ca/ssh/sign", runner, map[string]any{"inventory": "prod", "public_key": pub, "principals": []string{"backup"}, "ttl": "5m"})
	wantStatus(t, r, http.StatusOK)
	var cert api.SignedCertificate
	r.json(t, &cert)
	parsed, _, _, _, err := ssh.ParseAuthorizedKey([]byte(cert.Certificate))
	if err != nil {
		t.Fatal(err)
	}
	c := parsed.(*ssh.Certificate)
	if !slices.Equal(c.ValidPrincipals, []string{"backup"}) || time.Until(time.Unix(int64(c.ValidBefore), 0)) > 5*time.Minute+time.Minute {
		t.Fatalf("certificate principals %v valid until %v", c.ValidPrincipals, time.Unix(int64(c.ValidBefore), 0))
	}

	// Every refusal of an issuance or signature is in the audit log.
	var audit api.AuditEventList
	f.do("GET", "/api/v1/audit?action=credential.issue&limit=1000", f.admin, nil).json(t, &audit)
	denied := 0
	for _, e := range audit.Items {
		if e.Outcome == "denied" {
			denied += int(e.Count) // identical refusals are one record, counted
		}
	}
	// issue refusals: 6 tokens without use rights × prod + 8 × dev.
	if want := 6 + 8; denied != want {
		t.Fatalf("%d denied issuances audited, want %d", denied, want)
	}
}

// TestNoSecretLeaks runs the broker's flows with distinctive secret values
// and checks that none appears in the logs, in errors, in the audit log or
// in any response but the one that issued it.
func TestNoSecretLeaks(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	runner := f.token("runner", roster.RoleRunner)
	token, pw := secret("token"), secret("pw")
	awsSecret := secret("aws")
	var issuing []string // bodies allowed to hold secrets
	bodies := []response{
		f.do("POST", "/api/v1/credentials", f.admin, map[string]any{"name": "api", "type": "token", "fields": map[string]string{"token": token}}),
		f.do("POST", "/api/v1/credentials", f.admin, map[string]any{"name": "db", "type": "password", "fields": map[string]string{"username": "u", "password": pw}}),
		f.do("POST", "/api/v1/credentials", f.admin, map[string]any{"name": "aws", "type": "aws", "fields": map[string]string{"access_key_id": "AKIDLEAK", "secret_access_key": awsSecret}}),
		f.do("POST", "/api/v1/credentials", f.admin, map[string]any{"name": "dup", "type": "token", "fields": map[string]string{"token": secret("dup")}}),
		f.do("POST", "/api/v1/credentials", f.admin, map[string]any{"name": "dup", "type": "token", "fields": map[string]string{"token": secret("dup2")}}),
		f.do("PATCH", "/api/v1/credentials/db", f.admin, map[string]any{"fields": map[string]string{"password": secret("pw2"), "bogus": secret("bogus")}}),
		f.do("PATCH", "/api/v1/credentials/db", f.admin, map[string]any{"fields": map[string]string{"password": secret("pw3")}}),
		f.do("POST", "/api/v1/credentials/api/issue", runner, map[string]any{"inventory": "prod"}),
		f.do("POST", "/api/v1/grants", f.admin, map[string]string{"token": "runner", "credential": "api", "inventory": "prod"}),
		f.do("POST", "/api/v1/grants", f.admin, map[string]string{"token": "runner", "credential": "db", "inventory": "prod"}),
		f.do("GET", "/api/v1/credentials", f.admin, nil),
		f.do("GET", "/api/v1/credentials", runner, nil),
		f.do("GET", "/api/v1/credentials/db", f.admin, nil),
		f.do("POST", "/api/v1/credentials/db/issue", runner, map[string]any{"inventory": "prod", "wrap": true}), // local: refused
		f.do("POST", "/api/v1/inventories/prod/sources", f.admin, map[string]any{"name": "ec2", "provider": "aws", "credential": "aws", "config": f.awsConfig(nil)}),
		f.do("GET", "/api/v1/inventories/prod/sources", f.admin, nil),
	}
	for _, ref := range []string{"api", "db"} {
		r := f.do("POST", "/api/v1/credentials/"+ref+"/issue", runner, map[string]any{"inventory": "prod"})
		wantStatus(t, r, http.StatusOK)
		issuing = append(issuing, string(r.body))
	}
	bodies = append(bodies, f.do("GET", "/api/v1/audit?limit=1000", f.admin, nil))
	if !strings.Contains(strings.Join(issuing, ""), token) || !strings.Contains(strings.Join(issuing, ""), "S3CR3T-pw3") {
		t.Fatal("the issuing responses do not hold the secrets: the test proves nothing")
	}
	logs := f.logs.String()
	for _, v := range leakValues {
		if strings.Contains(logs, v) {
			t.Errorf("secret %s is in the logs", v)
		}
		for _, r := range bodies {
			if strings.Contains(string(r.body), v) {
				t.Errorf("secret %s is in a response: %.300s", v, r.body)
			}
		}
	}
}

// TestGuardedFields: an operator manages credentials, but may not point an
// existing one's secret elsewhere or widen what a certificate allows.
func TestGuardedFields(t *testing.T) {
	f := newFixture(t)
	operator := f.token("operator", roster.RoleOperator)
	wantStatus(t, f.do("POST", "/api/v1/credentials", f.admin, map[string]any{"name": "os", "type": "openstack", "fields": map[string]string{
		"auth_url": "https://keystone.example/v3", "username": "u", "password": secret("os-pw")}}), http.StatusCreated)
	wantStatus(t, f.do("POST", "/api/v1/credentials", f.admin, map[string]any{"name": "ca", "type": "ssh_certificate", "fields": map[string]string{
		"username": "deploy", "ttl": "10m"}}), http.StatusCreated)
	for _, tc := range []struct{ cred, field, value string }{
		{"os", "auth_url", "https://collector.example/v3"},
		{"ca", "principals", "deploy,root"},
		{"ca", "ttl", "24h"},
	} {
		r := f.do("PATCH", "/api/v1/credentials/"+tc.cred, operator, map[string]any{"fields": map[string]string{tc.field: tc.value}})
		wantStatus(t, r, http.StatusForbidden)
		if !slices.Contains(r.fields(), "fields."+tc.field) {
			t.Fatalf("fields %v, want fields.%s", r.fields(), tc.field)
		}
	}
	// Other fields are the operator's to change; an admin may change any.
	wantStatus(t, f.do("PATCH", "/api/v1/credentials/os", operator, map[string]any{"fields": map[string]string{"project_name": "ops"}}), http.StatusOK)
	wantStatus(t, f.do("PATCH", "/api/v1/credentials/ca", f.admin, map[string]any{"fields": map[string]string{"ttl": "5m"}}), http.StatusOK)
	var c api.Credential
	f.do("GET", "/api/v1/credentials/os", f.admin, nil).json(t, &c)
	if c.Fields["auth_url"] != "https://keystone.example/v3" {
		t.Fatalf("auth_url = %q after a refused change", c.Fields["auth_url"])
	}
}
