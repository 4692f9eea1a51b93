package openstack

import (
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	gcopenstack "github.com/gophercloud/gophercloud/v2/openstack"

	"github.com/rosterhq/roster/sources/openstack/openstacksim"
)

// simPages fetches servers/detail pages from a simulator as a member and
// as an admin at several microversions, with the real client.
func simPages(t testing.TB) [][]byte {
	t.Helper()
	e := newSimEnv(t, openstacksim.Options{Seed: 41, Size: 300, Regions: []string{"RegionOne"}})
	var pages [][]byte
	for _, user := range [][2]string{{"demo", openstacksim.DefaultPassword}, {"admin", openstacksim.AdminPassword}} {
		pc, err := gcopenstack.AuthenticatedClient(t.Context(), gophercloud.AuthOptions{IdentityEndpoint: e.authURL(),
			Username: user[0], Password: user[1], DomainName: "Default", TenantName: "demo"})
		if err != nil {
			t.Fatal(err)
		}
		c, err := gcopenstack.NewComputeV2(pc, gophercloud.EndpointOpts{Region: "RegionOne"})
		if err != nil {
			t.Fatal(err)
		}
		for _, mv := range []string{"2.1", "2.25", "2.47", "2.96"} {
			c.Microversion = mv
			resp, err := c.Get(t.Context(), c.ServiceURL("servers", "detail")+"?limit=100", nil,
				&gophercloud.RequestOpts{OkCodes: []int{200}, KeepResponseBody: true})
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			pages = append(pages, b)
		}
	}
	return pages
}

// handPages cover what the simulator does not send: escapes, surrogate
// pairs, invalid UTF-8, nulls, unknown keys with nested values, numbers
// in exponent form, scheduler hints.
var handPages = []string{
	`{"servers": []}`,
	`{"servers": null, "servers_links": null}`,
	` { "servers" : [ { "id" : "a" , "name" : "x\"y\\z\/\u00e9\ud83d\ude00\n\t" } ] } `,
	"{\"servers\": [{\"id\": \"b\", \"name\": \"bad \xff utf8 \xe2\x82\", \"metadata\": {\"k\\u0041\": \"v\\ud800\"}}]}",
	`{"servers": [{"id": "c", "name": null, "status": null, "tenant_id": null, "metadata": null, "image": null,
	  "flavor": null, "addresses": null, "links": null, "progress": null, "locked": null, "tags": null,
	  "os-extended-volumes:volumes_attached": null, "security_groups": null, "fault": null,
	  "OS-SCH-HNT:scheduler_hints": null, "server_groups": null}]}`,
	`{"servers": [{"id": "d", "unknown": {"a": [1, -2.5e+10, 0.0, true, false, null, {"x": "y"}]}, "image": "",
	  "flavor": {"original_name": "m1", "vcpus": 2, "ram": 4096, "disk": 0, "ephemeral": 0, "swap": 512,
	  "extra_specs": {"hw:cpu_policy": "dedicated"}, "future": [1]},
	  "OS-SCH-HNT:scheduler_hints": {"group": ["x"], "n": 1.5},
	  "addresses": {"b-net": [{"addr": "10.0.0.1", "version": 4, "OS-EXT-IPS:type": "fixed", "extra": 1}],
	                "a-net": [], "c-net": [{"addr": "fd00::1", "version": 6}]},
	  "fault": {"code": 500, "created": "t", "message": "m", "details": "tb"},
	  "locked": true, "OS-EXT-STS:power_state": 4, "tags": ["a", "b"], "server_groups": []}],
	  "servers_links": [{"href": "http://x/servers/detail?marker=d", "rel": "next", "type": "x"}]}`,
}

// Invalid pages: each must be an error.
var badPages = []string{
	``, `[]`, `{"servers": [}`, `{"servers": [{"id": 1}]}`, `{"servers": [{"progress": 1.5}]}`,
	`{"servers": [{"locked": "yes"}]}`, `{"servers": [{"id": "a"]}`, `{"servers": [{"id": "a\x01"}]}`,
	`{"servers": [{"id": "\q"}]}`, `{"servers": [{"x": 01}]}`, `{"servers": [{"x": tru}]}`, `{"servers": []} x`,
	`{"servers": [{"addresses": {"n": [{"version": "4"}]}}]}`, `{"servers": [{"metadata": {"a": 1}}]}`,
	`{"servers": [{"id": "a"}], }`, `{"servers": [{"x": -}]}`, `{"servers": [{"x": 1.}]}`, `{"servers": [{"x": 1e}]}`,
	`{"servers": [{"id": "\u12"}]}`, `{"servers": [{"image": 5}]}`,
}

func TestDecodeServerPageMatchesEncodingJSON(t *testing.T) {
	pages := simPages(t)
	for _, p := range handPages {
		pages = append(pages, []byte(p))
	}
	for i, data := range pages {
		want := &serverPage{}
		if err := json.Unmarshal(data, want); err != nil {
			t.Fatalf("page %d: encoding/json: %v", i, err)
		}
		got, err := decodeServerPage(data)
		if err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
		if !reflect.DeepEqual(normalise(got), normalise(want)) {
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			t.Fatalf("page %d decodes differently:\n got %s\nwant %s", i, g, w)
		}
	}
	for _, p := range badPages {
		if _, err := decodeServerPage([]byte(p)); err == nil {
			t.Errorf("%q decoded without an error", p)
		}
	}
}

// normalise makes a page comparable: encoding/json keeps a null server
// as a nil entry and RawMessage's spacing; the decoder drops the one and
// keeps the other.
func normalise(p *serverPage) *serverPage {
	out := &serverPage{Links: p.Links}
	for _, s := range p.Servers {
		if s != nil {
			c := *s
			if len(c.SchedulerHints) > 0 {
				var v any
				_ = json.Unmarshal(c.SchedulerHints, &v)
				c.SchedulerHints, _ = json.Marshal(v)
			}
			out.Servers = append(out.Servers, &c)
		}
	}
	return out
}

// FuzzDecodeServerPage checks that the decoder never panics and never
// accepts what is not JSON.
func FuzzDecodeServerPage(f *testing.F) {
	for _, p := range handPages {
		f.Add([]byte(p))
	}
	for _, p := range badPages {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		page, err := decodeServerPage(data)
		if err == nil && !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		if err != nil && page != nil {
			t.Fatal("a page and an error")
		}
		if err != nil && !strings.HasPrefix(err.Error(), "invalid servers page") {
			t.Fatalf("error %v", err)
		}
	})
}

// BenchmarkDecodeServerPage compares the decoder with encoding/json on a
// simulator page.
func BenchmarkDecodeServerPage(b *testing.B) {
	data := simPages(b)[7] // admin at 2.96: the largest
	b.Run("decoder", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := decodeServerPage(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var p serverPage
			if err := json.Unmarshal(data, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
