package gcp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// fill sets every field of m, recursively, to a distinct value: one list
// element, one map entry, nested messages down to depth 4. Of a real
// oneof only the first member is set.
func fill(m protoreflect.Message, depth int, n *int) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if o := fd.ContainingOneof(); o != nil && !o.IsSynthetic() && o.Fields().Get(0) != fd {
			continue
		}
		switch {
		case fd.IsList():
			l := m.Mutable(fd).List()
			if fd.Message() != nil {
				if depth < 4 {
					e := l.NewElement()
					fill(e.Message(), depth+1, n)
					l.Append(e)
				}
				continue
			}
			l.Append(scalar(fd, n))
		case fd.IsMap():
			mv := m.Mutable(fd).Map()
			key := protoreflect.ValueOfString(fmt.Sprintf("k%d", *n)).MapKey()
			if fd.MapValue().Message() != nil {
				if depth < 4 {
					v := mv.NewValue()
					fill(v.Message(), depth+1, n)
					mv.Set(key, v)
				}
				continue
			}
			mv.Set(key, scalar(fd.MapValue(), n))
		case fd.Message() != nil:
			if depth < 4 {
				fill(m.Mutable(fd).Message(), depth+1, n)
			}
		default:
			m.Set(fd, scalar(fd, n))
		}
	}
}

func scalar(fd protoreflect.FieldDescriptor, n *int) protoreflect.Value {
	*n++
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(fmt.Sprintf("%s-%d", fd.Name(), *n))
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(*n%2 == 0)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(*n))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(*n))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(int64(*n) << 40)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(*n) << 40)
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(*n) + 0.5)
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(float64(*n) + 0.25)
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte{byte(*n), 0xff})
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		return protoreflect.ValueOfEnum(vals.Get(*n % vals.Len()).Number())
	}
	panic("unhandled kind " + fd.Kind().String())
}

func canonical(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(x) // sorted keys, numbers as float64
	return b
}

// TestHostVarsCoverEveryField proves the hand-written conversion of an
// Instance equals the API's JSON (protojson) for every field this SDK
// version knows, so that no field the API returns is dropped.
func TestHostVarsCoverEveryField(t *testing.T) {
	in := &computepb.Instance{}
	n := 0
	fill(in.ProtoReflect(), 0, &n)
	if n < 200 {
		t.Fatalf("filled only %d values", n)
	}
	direct := map[string]any{}
	instanceFields(direct, in, false)
	generic := protoMap(in.ProtoReflect())
	pj, err := protojson.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var wire any
	if err := json.Unmarshal(pj, &wire); err != nil {
		t.Fatal(err)
	}
	if g, w := canonical(t, generic), canonical(t, wire); !bytes.Equal(g, w) {
		t.Fatalf("the generic conversion differs from protojson:\n%s\n%s", g, w)
	}
	if d, w := canonical(t, direct), canonical(t, wire); !bytes.Equal(d, w) {
		for k := range generic {
			if !bytes.Equal(canonical(t, direct[k]), canonical(t, generic[k])) {
				t.Errorf("field %s: direct %s, protojson %s", k, canonical(t, direct[k]), canonical(t, generic[k]))
			}
		}
		for k := range direct {
			if _, ok := generic[k]; !ok {
				t.Errorf("field %s is not in protojson's output", k)
			}
		}
	}
}

func TestHostVarsApplyThePluginsRewrites(t *testing.T) {
	s := func(v string) *string { return &v }
	in := &computepb.Instance{
		Id:          ptr(uint64(9007199254740993)), // beyond float64 precision: must stay exact
		Name:        s("web-1"),
		Zone:        s("https://www.googleapis.com/compute/v1/projects/p-123456/zones/us-east1-b"),
		MachineType: s("https://www.googleapis.com/compute/v1/projects/p-123456/zones/us-east1-b/machineTypes/e2-small"),
		Metadata: &computepb.Metadata{Fingerprint: s("fp"), Kind: s("compute#metadata"), Items: []*computepb.Items{
			{Key: s("startup-script"), Value: s("#!/bin/sh")}, {Key: s("empty")},
		}},
		NetworkInterfaces: []*computepb.NetworkInterface{{
			Network:    s("https://www.googleapis.com/compute/v1/projects/host-1/global/networks/shared"),
			Subnetwork: s("https://www.googleapis.com/compute/v1/projects/host-1/regions/us-east1/subnetworks/apps"),
		}},
	}
	v := hostVars(in, "p-123456", "", &Options{})
	want := map[string]any{
		"id":                   "9007199254740993",
		"name":                 "web-1",
		"zone":                 "us-east1-b",
		"zone_selflink":        *in.Zone,
		"machineType":          "e2-small",
		"machineType_selflink": *in.MachineType,
		"metadata":             map[string]any{"startup-script": "#!/bin/sh", "empty": ""},
		"networkInterfaces": []any{map[string]any{
			"network":    map[string]any{"name": "shared", "region": "global", "selfLink": *in.NetworkInterfaces[0].Network},
			"subnetwork": map[string]any{"name": "apps", "region": "us-east1", "selfLink": *in.NetworkInterfaces[0].Subnetwork},
		}},
		"project": "p-123456",
		"image":   nil,
	}
	if g, w := canonical(t, v), canonical(t, want); !bytes.Equal(g, w) {
		t.Fatalf("host vars\n%s\nwant\n%s", g, w)
	}
	// An instance without metadata has no metadata var, as in the plugin.
	if _, ok := hostVars(&computepb.Instance{Name: s("x")}, "p-123456", "", &Options{})["metadata"]; ok {
		t.Fatal("metadata var without metadata")
	}
}

func ptr[T any](v T) *T { return &v }
