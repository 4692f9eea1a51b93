package openstack

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeServerPage decodes a page of servers/detail. It is a small
// hand-written JSON decoder for one schema: encoding/json spends most of
// a large sync reflecting over the fifty fields of each server, and this
// does the same work several times faster. Keys match exactly (Nova's
// are fixed), unknown keys are skipped, null leaves a field unset, and a
// value of the wrong type is an error, as with encoding/json.
// decode_test.go checks it against encoding/json.
func decodeServerPage(data []byte) (*serverPage, error) {
	d := &decoder{b: data}
	page := &serverPage{}
	d.object(func(key []byte) {
		switch string(key) {
		case "servers":
			d.array(func() {
				if d.null() {
					return
				}
				s := &novaServer{}
				d.server(s)
				page.Servers = append(page.Servers, s)
			})
		case "servers_links":
			page.Links = d.links()
		default:
			d.skip()
		}
	})
	d.ws()
	if d.err == nil && d.i != len(d.b) {
		d.fail("data after the top-level value")
	}
	if d.err != nil {
		return nil, d.err
	}
	return page, nil
}

func (d *decoder) server(s *novaServer) {
	d.object(func(key []byte) {
		switch string(key) {
		case "id":
			s.ID = d.str()
		case "name":
			s.Name = d.str()
		case "status":
			s.Status = d.str()
		case "tenant_id":
			s.TenantID = d.optStr()
		case "user_id":
			s.UserID = d.optStr()
		case "metadata":
			s.Metadata = d.stringMap()
		case "hostId":
			s.HostID = d.optStr()
		case "image":
			s.Image = d.image()
		case "flavor":
			d.flavor(&s.Flavor)
		case "created":
			s.Created = d.optStr()
		case "updated":
			s.Updated = d.optStr()
		case "addresses":
			s.Addresses = d.addresses()
		case "accessIPv4":
			s.AccessIPv4 = d.optStr()
		case "accessIPv6":
			s.AccessIPv6 = d.optStr()
		case "links":
			s.Links = d.links()
		case "OS-DCF:diskConfig":
			s.DiskConfig = d.optStr()
		case "progress":
			s.Progress = d.optInt()
		case "OS-EXT-AZ:availability_zone":
			s.AZ = d.optStr()
		case "pinned_availability_zone":
			s.PinnedAZ = d.optStr()
		case "config_drive":
			s.ConfigDrive = d.optStr()
		case "key_name":
			s.KeyName = d.optStr()
		case "OS-SRV-USG:launched_at":
			s.LaunchedAt = d.optStr()
		case "OS-SRV-USG:terminated_at":
			s.TerminatedAt = d.optStr()
		case "OS-EXT-SRV-ATTR:host":
			s.Host = d.optStr()
		case "OS-EXT-SRV-ATTR:instance_name":
			s.InstanceName = d.optStr()
		case "OS-EXT-SRV-ATTR:hypervisor_hostname":
			s.Hypervisor = d.optStr()
		case "OS-EXT-SRV-ATTR:reservation_id":
			s.ReservationID = d.optStr()
		case "OS-EXT-SRV-ATTR:launch_index":
			s.LaunchIndex = d.optInt()
		case "OS-EXT-SRV-ATTR:hostname":
			s.Hostname = d.optStr()
		case "OS-EXT-SRV-ATTR:kernel_id":
			s.KernelID = d.optStr()
		case "OS-EXT-SRV-ATTR:ramdisk_id":
			s.RamdiskID = d.optStr()
		case "OS-EXT-SRV-ATTR:root_device_name":
			s.RootDevice = d.optStr()
		case "OS-EXT-STS:task_state":
			s.TaskState = d.optStr()
		case "OS-EXT-STS:vm_state":
			s.VMState = d.optStr()
		case "OS-EXT-STS:power_state":
			s.PowerState = d.optInt()
		case "os-extended-volumes:volumes_attached":
			s.Volumes = d.volumes()
		case "locked":
			s.Locked = d.optBool()
		case "locked_reason":
			s.LockedReason = d.optStr()
		case "description":
			s.Description = d.optStr()
		case "tags":
			s.Tags = d.strings()
		case "trusted_image_certificates":
			s.TrustedCerts = d.strings()
		case "host_status":
			s.HostStatus = d.optStr()
		case "security_groups":
			s.SecurityGroups = d.securityGroups()
		case "server_groups":
			s.ServerGroups = d.strings()
		case "fault":
			s.Fault = d.fault()
		case "OS-SCH-HNT:scheduler_hints":
			s.SchedulerHints = d.raw()
		default:
			d.skip()
		}
	})
}

// image reads a server's image: {"id": ..., "links": ...}, "" for a
// server booted from a volume, or null.
func (d *decoder) image() imageRef {
	var ref imageRef
	switch d.peek() {
	case '{':
		ref.Kind = imageObject
		d.object(func(key []byte) {
			switch string(key) {
			case "id":
				ref.ID = d.str()
			case "links":
				ref.Links = d.links()
			default:
				d.skip()
			}
		})
	case '"':
		ref.Kind = imageString
		d.str()
	default:
		if !d.null() {
			d.fail("image: want an object or a string")
		}
	}
	return ref
}

func (d *decoder) flavor(f *novaFlavor) {
	d.object(func(key []byte) {
		switch string(key) {
		case "id":
			f.ID = d.optStr()
		case "original_name":
			f.OriginalName = d.optStr()
		case "vcpus":
			f.VCPUs = d.optInt()
		case "ram":
			f.RAM = d.optInt()
		case "disk":
			f.Disk = d.optInt()
		case "ephemeral":
			f.Ephemeral = d.optInt()
		case "swap":
			f.Swap = d.optInt()
		case "extra_specs":
			f.ExtraSpecs = d.stringMap()
		default:
			d.skip()
		}
	})
}

func (d *decoder) addresses() addresses {
	var as addresses
	d.object(func(key []byte) {
		n := networkAddresses{network: string(key), addrs: []address{}}
		d.array(func() {
			var a address
			d.object(func(key []byte) {
				switch string(key) {
				case "addr":
					a.Addr = d.str()
				case "version":
					a.Version = d.int()
				case "OS-EXT-IPS:type":
					a.Type = d.str()
				case "OS-EXT-IPS-MAC:mac_addr":
					a.MAC = d.str()
				default:
					d.skip()
				}
			})
			n.addrs = append(n.addrs, a)
		})
		as = append(as, n)
	})
	return as
}

func (d *decoder) links() []link {
	return objects(d, func(l *link, key []byte) {
		switch string(key) {
		case "href":
			l.Href = d.str()
		case "rel":
			l.Rel = d.str()
		default:
			d.skip()
		}
	})
}

func (d *decoder) volumes() []volume {
	return objects(d, func(v *volume, key []byte) {
		switch string(key) {
		case "id":
			v.ID = d.str()
		case "delete_on_termination":
			v.DeleteOnTermination = d.optBool()
		default:
			d.skip()
		}
	})
}

func (d *decoder) securityGroups() []securityGroup {
	return objects(d, func(g *securityGroup, key []byte) {
		if string(key) == "name" {
			g.Name = d.str()
		} else {
			d.skip()
		}
	})
}

// objects reads an array of objects, each member read by member; null
// reads nil, as encoding/json leaves a slice.
func objects[T any](d *decoder, member func(v *T, key []byte)) []T {
	if d.null() {
		return nil
	}
	out := []T{}
	d.array(func() {
		var zero T
		out = append(out, zero)
		v := &out[len(out)-1] // decoded in place: a local would escape to the heap
		d.object(func(key []byte) { member(v, key) })
	})
	return out
}

func (d *decoder) fault() *fault {
	if d.null() {
		return nil
	}
	f := &fault{}
	d.object(func(key []byte) {
		switch string(key) {
		case "code":
			f.Code = d.int()
		case "created":
			f.Created = d.str()
		case "message":
			f.Message = d.str()
		case "details":
			f.Details = d.str()
		default:
			d.skip()
		}
	})
	return f
}

// decoder reads JSON from a byte slice. The first error stops it: every
// method then returns zero values.
type decoder struct {
	b   []byte
	i   int
	err error
}

func (d *decoder) fail(msg string) {
	if d.err == nil {
		d.err = fmt.Errorf("invalid servers page at byte %d: %s", d.i, msg)
	}
	d.i = len(d.b)
}

func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (d *decoder) peek() byte {
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// null consumes a null and reports whether there was one.
func (d *decoder) null() bool {
	if d.peek() == 'n' {
		d.literal("null")
		return true
	}
	return false
}

func (d *decoder) literal(lit string) {
	if len(d.b)-d.i < len(lit) || string(d.b[d.i:d.i+len(lit)]) != lit {
		d.fail("invalid literal")
		return
	}
	d.i += len(lit)
}

// object calls member for each member of an object, with the key; member
// must consume the value. null is an empty object.
func (d *decoder) object(member func(key []byte)) {
	d.sequence('{', '}', "an object", func() {
		if d.peek() != '"' {
			d.fail("want a key")
			return
		}
		key := d.strBytes()
		if d.peek() != ':' {
			d.fail("want ':'")
			return
		}
		d.i++
		member(key)
	})
}

// array calls item for each item of an array; item must consume it. null
// is an empty array.
func (d *decoder) array(item func()) {
	d.sequence('[', ']', "an array", item)
}

// sequence reads the comma-separated entries of an object or array
// between open and close (what names it in errors), each with entry;
// null is an empty one.
func (d *decoder) sequence(open, close byte, what string, entry func()) {
	if d.null() || d.err != nil {
		return
	}
	if d.peek() != open {
		d.fail("want " + what)
		return
	}
	d.i++
	if d.peek() == close {
		d.i++
		return
	}
	for d.err == nil {
		entry()
		switch d.peek() {
		case ',':
			d.i++
		case close:
			d.i++
			return
		default:
			d.fail("want ',' or '" + string(close) + "'")
		}
	}
}

// str reads a string; null reads "".
func (d *decoder) str() string {
	if d.null() {
		return ""
	}
	if d.peek() != '"' {
		d.fail("want a string")
		return ""
	}
	return string(d.strBytes())
}

func (d *decoder) optStr() *string { return optional(d, d.str) }

// optional reads a value with read; null (or an error) reads nil.
func optional[T any](d *decoder, read func() T) *T {
	if d.null() {
		return nil
	}
	v := read()
	if d.err != nil {
		return nil
	}
	return &v
}

// strBytes reads a string at d.i (which is '"'). Without escapes the
// result aliases the input; callers copy it when they keep it.
func (d *decoder) strBytes() []byte {
	d.i++
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			return s
		case c == '\\':
			return d.escaped(start)
		case c < 0x20:
			d.fail("control character in a string")
			return nil
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(d.b[d.i:])
			if r == utf8.RuneError && size == 1 {
				return d.escaped(start) // invalid UTF-8 becomes U+FFFD, as in encoding/json
			}
			d.i += size
		default:
			d.i++
		}
	}
	d.fail("unterminated string")
	return nil
}

// escaped finishes a string that needs unescaping, from start.
func (d *decoder) escaped(start int) []byte {
	out := make([]byte, 0, d.i-start+16)
	out = append(out, d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return out
		case c < 0x20:
			d.fail("control character in a string")
			return nil
		case c == '\\':
			if d.i+1 >= len(d.b) {
				d.fail("unterminated escape")
				return nil
			}
			e := d.b[d.i+1]
			d.i += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r := d.hex4()
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if d.i+1 < len(d.b) && d.b[d.i] == '\\' && d.b[d.i+1] == 'u' {
						save := d.i
						d.i += 2
						r2 = d.hex4()
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							r = dec
						} else {
							d.i = save
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				}
				out = utf8.AppendRune(out, r)
			default:
				d.fail("invalid escape")
				return nil
			}
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(d.b[d.i:])
			out = utf8.AppendRune(out, r) // RuneError for invalid bytes
			d.i += size
		default:
			out = append(out, c)
			d.i++
		}
	}
	d.fail("unterminated string")
	return nil
}

func (d *decoder) hex4() rune {
	if len(d.b)-d.i < 4 {
		d.fail("short \\u escape")
		return 0
	}
	var r rune
	for _, c := range d.b[d.i : d.i+4] {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			d.fail("invalid \\u escape")
			return 0
		}
	}
	d.i += 4
	return r
}

// number returns the bytes of a JSON number.
func (d *decoder) number() []byte {
	d.ws()
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	first := d.i
	if n := d.digits(); n == 0 || n > 1 && d.b[first] == '0' {
		d.fail("invalid number")
		return nil
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if d.digits() == 0 {
			d.fail("invalid number")
			return nil
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if d.digits() == 0 {
			d.fail("invalid number")
			return nil
		}
	}
	return d.b[start:d.i]
}

// digits consumes decimal digits and returns how many.
func (d *decoder) digits() int {
	start := d.i
	for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
		d.i++
	}
	return d.i - start
}

// int reads an integer; null reads 0.
func (d *decoder) int() int64 {
	if d.null() {
		return 0
	}
	n, err := strconv.ParseInt(string(d.number()), 10, 64)
	if err != nil && d.err == nil {
		d.fail("want an integer")
	}
	return n
}

func (d *decoder) optInt() *int64 { return optional(d, d.int) }

func (d *decoder) optBool() *bool {
	var b bool
	switch d.peek() {
	case 't':
		d.literal("true")
		b = true
	case 'f':
		d.literal("false")
	case 'n':
		d.literal("null")
		return nil
	default:
		d.fail("want a boolean")
		return nil
	}
	return &b
}

func (d *decoder) strings() []string {
	if d.null() {
		return nil
	}
	out := []string{}
	d.array(func() { out = append(out, d.str()) })
	return out
}

func (d *decoder) stringMap() map[string]string {
	if d.null() {
		return nil
	}
	out := map[string]string{}
	d.object(func(key []byte) {
		k := string(key)
		out[k] = d.str()
	})
	return out
}

// raw returns a copy of the next value's bytes.
func (d *decoder) raw() []byte {
	d.ws()
	start := d.i
	d.skip()
	if d.err != nil {
		return nil
	}
	return append([]byte(nil), d.b[start:d.i]...)
}

// skip consumes any value.
func (d *decoder) skip() {
	switch c := d.peek(); c {
	case '{':
		d.object(func([]byte) { d.skip() })
	case '[':
		d.array(d.skip)
	case '"':
		d.strBytes()
	case 't':
		d.literal("true")
	case 'f':
		d.literal("false")
	case 'n':
		d.literal("null")
	default:
		if c == '-' || '0' <= c && c <= '9' {
			d.number()
			return
		}
		d.fail("want a value")
	}
}
