package gcp

import (
	"testing"

	"github.com/rosterhq/roster/sources/sourcestest"
)

// FuzzConfig: see sourcestest.FuzzConfig.
func FuzzConfig(f *testing.F) {
	sourcestest.AddFiles(f, "testdata/options/*.json")
	sourcestest.FuzzConfig(f, Driver{},
		`{"projects": "my-project-1"}`,
		`{"projects": ["example.com:my-project"], "zones": ["us-central1-a"], "filters": ["status = RUNNING"]}`,
		`{"projects": "my-project-1", "endpoint_url": "http://127.0.0.1:8089", "token_uri": "http://localhost:8089/token"}`,
		`{"projects": "my-project-1", "hostnames": ["public_ip", "private_ip", "name", "hostname", "labels.vm_name"]}`,
		`{}`, `{"projects": ["my-project-1", "My_Project"]}`, `{"projects": ["abc"]}`, `{"projects": ["123456789012"]}`,
		`{"projects": ["my-project-1", "my-project-1"]}`, `{"projects": {"a": 1}}`, `{"projects": "my-project-1", "zones": ["us-central1"]}`,
		`{"projects": "p-123456", "service_account_contents": "{}"}`, `{"projects": "p-123456", "auth_kind": "machineaccount"}`,
	)
}
