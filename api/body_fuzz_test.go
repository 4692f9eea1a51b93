package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// bodyOp is one API operation that takes a request body (or, for the
// operations without one, might be sent one anyway).
type bodyOp struct {
	name   string
	method string
	path   func(*fuzzServer) string
	// undo is where a DELETE removes what a 2xx made ("" for updates).
	undo func(id string) string
	// seeds are bodies the operation accepts or refuses for a reason of
	// its own, from the tests and the README.
	seeds []string
}

var bodyOps = []bodyOp{
	{"createInventory", "POST", func(*fuzzServer) string { return "/api/v1/inventories" },
		func(id string) string { return "/api/v1/inventories/" + id },
		[]string{`{"name": "prod"}`, `{"name": "prod", "description": "d", "prometheus_sd": {"port": 9100, "address_var": "private_ip_address"}}`,
			`{"name": "fz"}`, `{"name": "-bad"}`, `{"name": "x", "prometheus_sd": {"port": 0}}`}},
	{"updateInventory", "PATCH", func(fs *fuzzServer) string { return "/api/v1/inventories/" + fs.updInv }, nil,
		[]string{`{"description": "new"}`, `{"prometheus_sd": {}}`, `{"prometheus_sd": {"port": 9100, "address_var": "a.b"}}`,
			`{"name": "fz"}`, `{"prometheus_sd": {"port": 65536}}`, `{}`}},
	{"createSource", "POST", func(fs *fuzzServer) string { return "/api/v1/inventories/" + fs.inv + "/sources" },
		func(id string) string { return "/api/v1/sources/" + id },
		[]string{
			`{"name": "aws-prod", "provider": "aws", "config": {"plugin": "amazon.aws.aws_ec2", "regions": ["us-east-1", "eu-west-1"],
			  "filters": {"tag:Env": "prod"}, "hostnames": ["tag:Name", "private-dns-name"], "compose": {"ansible_host": "private_ip_address"},
			  "keyed_groups": [{"prefix": "tag", "key": "tags"}, {"prefix": "aws_region", "key": "placement.region"},
			  {"key": "tags[\"Role\"]", "prefix": "role", "parent_group": "roles"}]}}`,
			`{"name": "g", "provider": "gcp", "config": {"projects": ["p-1"], "zones": ["us-central1-a"]}, "schedule": "15m", "schedule_jitter": "30s", "timeout": "10m", "update_cache_timeout": 300}`,
			`{"name": "az", "provider": "azure", "config": {"include_vm_resource_groups": ["rg"], "conditional_groups": {"web": "true"}}}`,
			`{"name": "os", "provider": "openstack", "config": {"clouds": ["devstack"]}, "on_missing": "disable", "schedule": "*/15 * * * *"}`,
			`{"name": "x", "provider": "aws", "config": {"regions": ["us-east-1"]}, "credential": "pw"}`,
			`{"name": "x", "provider": "aws", "config": {"regions": ["nowhere"], "compose": {"a": "{{"}, "secret_key": "k"}}`,
			`{"name": "x", "provider": "kubernetes"}`, `{"name": "x", "provider": "aws", "schedule": "1ns", "update_cache_timeout": 9223372036854775807}`,
		}},
	{"updateSource", "PATCH", func(fs *fuzzServer) string { return "/api/v1/sources/" + fs.updSrc }, nil,
		[]string{`{"schedule": "15m", "schedule_jitter": "30s", "timeout": "10m", "update_cache_timeout": 300}`,
			`{"config": {"regions": ["eu-west-1"], "endpoint_url": "http://127.0.0.1:9", "groups": {"all_web": "'web' in tags"}}}`,
			`{"credential": ""}`, `{"credential": "ca"}`, `{"schedule": "", "schedule_jitter": "", "timeout": ""}`,
			`{"on_missing": "disable"}`, `{"schedule": "@hourly", "schedule_jitter": "2h"}`, `{"timeout": "-1s"}`}},
	{"createCallbackKey", "POST", func(fs *fuzzServer) string { return "/api/v1/sources/" + fs.src + "/callback-key" }, nil,
		[]string{``, `{}`}},
	{"sourceCallback", "POST", func(fs *fuzzServer) string { return "/api/v1/callbacks/" + fs.callbackKey }, nil,
		[]string{``, `{}`}},
	{"triggerSync", "POST", func(fs *fuzzServer) string { return "/api/v1/sources/" + fs.src + "/syncs" }, nil,
		[]string{``, `{}`}},
	{"setGroupVars", "PUT", func(fs *fuzzServer) string { return "/api/v1/inventories/" + fs.inv + "/groups/web/vars" }, nil,
		[]string{`{"http_port": 8080, "nested": {"a": [1, 2, {"b": null}]}}`, `{}`, `[]`, `"vars"`}},
	{"createWebhook", "POST", func(*fuzzServer) string { return "/api/v1/webhooks" },
		func(id string) string { return "/api/v1/webhooks/" + id },
		[]string{`{"name": "ops-slack", "inventory": "fz", "format": "slack", "events": ["sync.failed", "hosts.changed"],
			  "url": "https://hooks.slack.com/services/T000/B000/XXXX"}`,
			`{"name": "gen", "inventory": "fz", "events": ["sync.succeeded"], "url": "http://127.0.0.1:9/hook", "signing_secret": "s", "enabled": false}`,
			`{"name": "plain", "inventory": "fz", "events": ["sync.partial"], "url": "http://example.com/", "allow_insecure": true}`,
			`{"name": "both", "inventory": "fz", "source": "nope", "events": ["sync.failed"], "url": "https://x"}`,
			`{"name": "none", "events": [], "url": "ftp://x"}`}},
	{"updateWebhook", "PATCH", func(fs *fuzzServer) string { return "/api/v1/webhooks/" + fs.webhook }, nil,
		[]string{`{"enabled": false}`, `{"url": "https://hooks.example.invalid/T1/B1/Y", "signing_secret": ""}`,
			`{"format": "generic", "signing_secret": "s2", "events": ["hosts.changed"]}`, `{"url": "http://example.com/"}`, `{"events": []}`}},
	{"createToken", "POST", func(*fuzzServer) string { return "/api/v1/tokens" },
		func(id string) string { return "/api/v1/tokens/" + id },
		[]string{`{"name": "ci", "role": "runner", "ttl": "720h"}`, `{"name": "ops", "role": "operator"}`,
			`{"name": "x", "role": "root"}`, `{"name": "x", "role": "runner", "ttl": "1ns"}`, `{"name": "x", "role": "runner", "ttl": "9999999999h"}`}},
	{"createCredential", "POST", func(*fuzzServer) string { return "/api/v1/credentials" },
		func(id string) string { return "/api/v1/credentials/" + id },
		[]string{`{"name": "db", "type": "password", "fields": {"username": "app", "password": "p"}}`,
			`{"name": "ca2", "type": "ssh_certificate", "fields": {"username": "deploy", "principals": "deploy,backup", "ttl": "20m"}}`,
			`{"name": "tok", "type": "token", "fields": {"token": "t"}}`,
			`{"name": "k", "type": "aws", "fields": {"access_key_id": "AKID", "secret_access_key": "s"}}`,
			`{"name": "x", "type": "kerberos", "fields": {}}`, `{"name": "x", "type": "password", "fields": {"username": "u", "password": "p", "colour": "red"}}`,
			`{"name": "x", "type": "ssh_key", "fields": {"username": "u", "private_key": "not a key"}}`,
			`{"name": "x", "type": "ssh_certificate", "fields": {"username": "u", "ttl": "forever"}}`,
			`{"name": "x", "type": "gcp", "fields": {"service_account_json": "{\"type\":\"user\"}"}}`}},
	{"updateCredential", "PATCH", func(fs *fuzzServer) string { return "/api/v1/credentials/" + fs.updPW }, nil,
		[]string{`{"fields": {"username": "app2"}}`, `{"fields": {"password": "p2"}}`, `{"description": "d"}`,
			`{"fields": {"username": ""}}`, `{"fields": {"colour": "red"}}`, `{"name": "ca"}`}},
	{"updateSSHCredential", "PATCH", func(fs *fuzzServer) string { return "/api/v1/credentials/" + fs.updCA }, nil,
		[]string{`{"fields": {"ttl": "5m", "principals": "deploy"}}`, `{"fields": {"ttl": "forever"}}`, `{"fields": {"ttl": "-5m"}}`}},
	{"issueCredential", "POST", func(fs *fuzzServer) string { return "/api/v1/credentials/" + fs.pwCred + "/issue" }, nil,
		[]string{`{"inventory": "fz"}`, `{"inventory": "fz", "wrap": true, "wrap_ttl": "30s"}`, `{"inventory": "fz", "wrap": true, "wrap_ttl": "1000h"}`,
			`{"inventory": "nope"}`, `{"inventory": "fz", "wrap_ttl": "-1s"}`}},
	{"signSSHKey", "POST", func(fs *fuzzServer) string { return "/api/v1/credentials/" + fs.caCred + "/ssh/sign" }, nil,
		[]string{`{"inventory": "fz", "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl u@h"}`,
			`{"inventory": "fz", "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl", "principals": ["deploy"], "ttl": "1m"}`,
			`{"inventory": "fz", "public_key": "ssh-ed25519 AAAA", "principals": ["root"], "ttl": "100h"}`,
			`{"inventory": "fz", "public_key": "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQ== x"}`}},
	{"createGrant", "POST", func(*fuzzServer) string { return "/api/v1/grants" },
		func(id string) string { return "/api/v1/grants/" + id },
		[]string{`{"token": "runner", "credential": "pw", "inventory": "fz"}`, `{"token": "admin", "credential": "pw", "inventory": "fz"}`,
			`{"token": "nope", "credential": "pw", "inventory": "fz"}`, `{"token": "runner", "credential": "ca", "inventory": "nope"}`}},
}

// hostileBodies are sent to every operation: JSON that is not quite JSON,
// or JSON at the edges of what decoders agree on.
var hostileBodies = []string{
	``, `null`, `[]`, `"x"`, `0`, `{}`, ` {"name": "a"} `,
	`{"name": "a"} {"name": "b"}`, `{"name": "a"}x`, `{"name": "a"`, `{"name": "a",}`, `{'name': 'a'}`,
	`{"name": "a", "name": "b"}`, `{"name": "a", "NAME": "b"}`, `{"name": "a", "Name": "b"}`,
	"{\"name\": \"\xff\xfe\"}", `{"name": "\ud800"}`, `{"name": "a\u0000b"}`, "{\"name\": \"a\x00b\"}",
	`{"name": 1e999999}`, `{"name": "a", "description": 123456789012345678901234567890}`,
	`{"update_cache_timeout": 1e300}`, `{"update_cache_timeout": -0}`, `{"update_cache_timeout": 9223372036854775808}`,
	`{"prometheus_sd": {"port": 1.5}}`, `{"fields": {"a": null}}`, `{"config": null}`, `{"events": null}`,
	strings.Repeat(`[`, 10001) + strings.Repeat(`]`, 10001),
	`{"a":` + strings.Repeat(`{"a":`, 5000) + `1` + strings.Repeat(`}`, 5001),
	`{"config": {"compose": {"x": "` + strings.Repeat(`(`, 3000) + `1` + strings.Repeat(`)`, 3000) + `"}}}`,
	`{"name": "` + strings.Repeat("a", 70<<10) + `"}`,
}

// FuzzRequestBody sends bodies to every operation that takes one (and to
// the writes without one), as an admin holding grants for the fixture's
// credentials, and checks what a client must always get (checkBody).
//
// The corpus is each operation's seeds and each hostile body once (for
// one operation: the fuzzer moves bodies between operations), so that a
// short fuzzing run spends its time on new inputs rather than on its
// baseline; TestHostileBodies sends every hostile body to every operation.
func FuzzRequestBody(f *testing.F) {
	for i, op := range bodyOps {
		for _, s := range op.seeds {
			f.Add(uint8(i), []byte(s))
		}
	}
	for i, s := range hostileBodies {
		f.Add(uint8(i%len(bodyOps)), []byte(s))
	}
	fs := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		fs.checkBody(t, bodyOps[int(op)%len(bodyOps)], body)
	})
}

// TestHostileBodies sends every hostile body to every operation.
func TestHostileBodies(t *testing.T) {
	fs := newFuzzServer(t)
	for _, op := range bodyOps {
		t.Run(op.name, func(t *testing.T) {
			for _, body := range hostileBodies {
				fs.checkBody(t, op, []byte(body))
			}
		})
	}
}

// checkBody sends body to op and checks: no 5xx (a 500 is an input the
// server did not expect), a problem document for every refusal, an answer
// openapi.yaml allows, and nothing changed by a refused request. What a
// request made is deleted again.
func (fs *fuzzServer) checkBody(t *testing.T, op bodyOp, body []byte) {
	t.Helper()
	path := op.path(fs)
	what := fmt.Sprintf("%s %s %s with %.200q", op.name, op.method, path, body)
	before := fs.state(t)
	fs.errs.take()

	req := httptest.NewRequest(op.method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+fs.admin)
	r := fs.serve(req)

	if r.status >= 500 {
		t.Fatalf("%s → %d; body %.300q\nserver log: %s", what, r.status, r.body, fs.errs.take())
	}
	fs.checkSpec(t, httptest.NewRequest(op.method, path, nil), body, r)
	if r.status >= 400 {
		checkProblem(t, what, r)
		if after := fs.state(t); after != before {
			t.Fatalf("%s → %d refused the body but changed the state:\nbefore %s\nafter  %s", what, r.status, before, after)
		}
		return
	}
	if len(r.body) > 0 && !json.Valid(r.body) {
		t.Fatalf("%s → %d with a body that is not JSON: %.300q", what, r.status, r.body)
	}
	var made struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	json.Unmarshal(r.body, &made)
	switch {
	case op.name == "createCallbackKey" && r.status == http.StatusCreated:
		fs.callbackKey = made.Key
	case op.undo != nil && r.status == http.StatusCreated:
		// Undo it, so that inputs do not pile state up for the next ones.
		if u := fs.do("DELETE", op.undo(made.ID), fs.admin, ""); u.status != http.StatusNoContent {
			t.Fatalf("%s made %s that DELETE %s cannot remove: %d %s", what, r.body, op.undo(made.ID), u.status, u.body)
		}
	}
}
