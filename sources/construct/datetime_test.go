package construct

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// datetimeVars are host vars holding datetimes as aws_ec2's do (boto3
// parses EC2's timestamps into datetime.datetime with tzinfo=tzutc()).
func datetimeVars() map[string]any {
	lt := NewDatetime(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))
	return map[string]any{
		"launch_time": lt,
		"lt2":         NewDatetime(time.Date(2024, 3, 9, 17, 4, 5, 123000999, time.UTC)),
		"nics":        []any{map[string]any{"attachment": map[string]any{"attach_time": lt, "device_index": int64(0)}}},
		"s":           "2024-01-02T03:04:05+00:00",
		"n":           int64(4),
	}
}

// TestDatetimesAreTemplatedAsAnsibleDoes compares compose results over
// datetime host vars with ansible-core 2.14.18's (Debian 12), taken with
// the same vars as Python datetimes (datetime(..., tzinfo=tzutc())) and
//
//	t = Templar(loader=DataLoader()); t.available_variables = vars
//	json.dumps(t.template("{{ %s }}" % expr, disable_lookups=True),
//	           cls=AnsibleJSONEncoder)
//
// want "" is a template error in Ansible.
func TestDatetimesAreTemplatedAsAnsibleDoes(t *testing.T) {
	vars := datetimeVars()
	for _, tc := range []struct{ expr, want string }{
		{"launch_time", "\"2024-01-02 03:04:05+00:00\""},
		{"lt2", "\"2024-03-09 17:04:05.123000+00:00\""},
		{"launch_time|string", "\"2024-01-02 03:04:05+00:00\""},
		{"lt2|string", "\"2024-03-09 17:04:05.123000+00:00\""},
		{"launch_time ~ '/'", "\"2024-01-02 03:04:05+00:00/\""},
		{"'%s' % launch_time", "\"2024-01-02 03:04:05+00:00\""},
		{"'{}'.format(lt2)", "\"2024-03-09 17:04:05.123000+00:00\""},
		{"launch_time.year", "\"2024\""},
		{"launch_time.month", "\"1\""},
		{"launch_time.day", "\"2\""},
		{"launch_time.hour", "\"3\""},
		{"launch_time.minute", "\"4\""},
		{"launch_time.second", "\"5\""},
		{"launch_time.microsecond", "\"0\""},
		{"lt2.microsecond", "\"123000\""},
		{"launch_time.year + 1", "\"2025\""},
		{"launch_time.isoformat()", "\"2024-01-02T03:04:05+00:00\""},
		{"lt2.isoformat()", "\"2024-03-09T17:04:05.123000+00:00\""},
		{"lt2.isoformat(' ')", "\"2024-03-09 17:04:05.123000+00:00\""},
		{"launch_time.strftime('%Y-%m-%d %H:%M:%S')", "\"2024-01-02 03:04:05\""},
		{"lt2.strftime('%a %A %b %B %d %e %j %H %I %p %M %S %f %y %z %Z %% %c %x %X %U %W %u %w %G %V %F %T %D %R %s %Q')", "\"Sat Saturday Mar March 09  9 069 17 05 PM 04 05 123000 24 +0000 UTC % Sat Mar  9 17:04:05 2024 03/09/24 17:04:05 09 10 6 6 2024 10 2024-03-09 17:04:05 03/09/24 17:04 1710003845 %Q\""},
		{"launch_time.strftime('%Y%m%d')", "\"20240102\""},
		{"launch_time.timestamp()", "\"1704164645.0\""},
		{"lt2.timestamp()", "\"1710003845.123\""},
		{"launch_time.weekday()", "\"1\""},
		{"lt2.isoweekday()", "\"6\""},
		{"launch_time.tzname()", "\"UTC\""},
		{"launch_time < lt2", "true"},
		{"launch_time > lt2", "false"},
		{"launch_time == launch_time", "true"},
		{"launch_time != lt2", "true"},
		{"launch_time == s", "false"},
		{"launch_time == launch_time.isoformat()", "false"},
		{"launch_time < s", ""}, // Unexpected templating type error occurred on ({{ launch_time < s }}): '<' not supported be
		{"launch_time < 1", ""}, // Unexpected templating type error occurred on ({{ launch_time < 1 }}): '<' not supported be
		{"[launch_time]", "\"[datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=tzutc())]\""},
		{"[lt2, 1]", "\"[datetime.datetime(2024, 3, 9, 17, 4, 5, 123000, tzinfo=tzutc()), 1]\""},
		{"nics", "\"[{'attachment': {'attach_time': datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=tzutc()), 'device_index': 0}}]\""},
		{"nics[0].attachment", "\"{'attach_time': datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=tzutc()), 'device_index': 0}\""},
		{"nics[0].attachment.attach_time", "\"2024-01-02 03:04:05+00:00\""},
		{"nics[0].attachment.attach_time.year", "\"2024\""},
		{"{'a': launch_time}", "\"{'a': datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=tzutc())}\""},
		{"launch_time|to_json", "\"\\\"2024-01-02T03:04:05+00:00\\\"\""},
		{"nics|to_json", "\"[{\\\"attachment\\\": {\\\"attach_time\\\": \\\"2024-01-02T03:04:05+00:00\\\", \\\"device_index\\\": 0}}]\""},
		{"lt2|to_nice_json", "\"\\\"2024-03-09T17:04:05.123000+00:00\\\"\""},
		{"launch_time|type_debug", "\"datetime\""},
		{"launch_time is string", "false"},
		{"launch_time is number", "false"},
		{"launch_time is mapping", "false"},
		{"launch_time is iterable", "false"},
		{"launch_time is sequence", "false"},
		{"launch_time is defined", "true"},
		{"launch_time|int", "\"0\""},
		{"launch_time|float", "\"0.0\""},
		{"launch_time|bool", "false"},
		{"launch_time|length", ""}, // Unexpected templating type error occurred on ({{ launch_time|length }}): object of type 'd
		{"launch_time|lower", "\"2024-01-02 03:04:05+00:00\""},
		{"launch_time|upper", "\"2024-01-02 03:04:05+00:00\""},
		{"launch_time|replace(' ', 'T')", "\"2024-01-02T03:04:05+00:00\""},
		{"launch_time|regex_replace('[+].*', '')", "\"2024-01-02 03:04:05\""},
		{"launch_time|default('x')", "\"2024-01-02 03:04:05+00:00\""},
		{"launch_time.foo", ""}, // 'datetime
		{"[lt2, launch_time]|sort", "\"[datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=tzutc()), datetime.datetime(2024, 3, 9, 17, 4, 5, 123000, tzinfo=tzutc())]\""},
		{"[lt2, launch_time]|min", "\"2024-01-02 03:04:05+00:00\""},
		{"[lt2, launch_time]|max", "\"2024-03-09 17:04:05.123000+00:00\""},
		{"[launch_time, launch_time]|unique|length", "\"1\""},
		{"launch_time in [launch_time]", "true"},
		{"launch_time if launch_time else 'no'", "\"2024-01-02 03:04:05+00:00\""},
		{"launch_time|string|length", "\"25\""},
		{"(launch_time|string)[:4]", "\"2024\""},
	} {
		c, err := Parse(map[string]any{"compose": map[string]any{"v": tc.expr}, "strict": true})
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		res, err := c.Apply(vars)
		if tc.want == "" {
			if err == nil {
				t.Errorf("{{ %s }} = %#v, Ansible fails", tc.expr, res.Vars["v"])
			}
			continue
		}
		if err != nil {
			t.Errorf("{{ %s }}: %v; Ansible gives %s", tc.expr, err, tc.want)
			continue
		}
		b, _ := json.Marshal(res.Vars["v"])
		if string(b) != tc.want {
			t.Errorf("{{ %s }} = %s, Ansible gives %s", tc.expr, b, tc.want)
		}
	}
}

// TestDatetimeUnsupported lists what Python's datetime has and Roster's
// does not: each is a template error, never a wrong value.
func TestDatetimeUnsupported(t *testing.T) {
	for _, expr := range []string{
		"launch_time - lt2",  // Ansible: "-68 days, 9:59:59.877000" (a timedelta)
		"launch_time.date()", // Ansible: "2024-01-02"
		"launch_time.tzinfo", // Ansible: "tzutc()"
		"launch_time.replace(year=2020)",
		"'{:%Y}'.format(launch_time)",
	} {
		c, err := Parse(map[string]any{"compose": map[string]any{"v": expr}, "strict": true})
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		if res, err := c.Apply(datetimeVars()); err == nil {
			t.Errorf("{{ %s }} = %#v, want an error", expr, res.Vars["v"])
		}
	}
}

func TestDatetimeJSONIsAnsibleInventorys(t *testing.T) {
	// ansible-inventory --list writes a datetime host var with
	// AnsibleJSONEncoder: isoformat().
	vars := datetimeVars()
	b, err := json.Marshal(map[string]any{"a": vars["launch_time"], "b": vars["lt2"]})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":"2024-01-02T03:04:05+00:00","b":"2024-03-09T17:04:05.123000+00:00"}`; string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
	d := NewDatetime(time.Date(2024, 1, 2, 4, 4, 5, 0, time.FixedZone("x", 3600)))
	if got := d.String(); got != "2024-01-02 03:04:05+00:00" {
		t.Errorf("str = %q, want the UTC time", got)
	}
}

// TestDatetimeGroups checks groups and keyed_groups over datetimes against
// ansible-core 2.14.18's Constructable (see TestStrictAsAnsible214).
func TestDatetimeGroups(t *testing.T) {
	c, err := Parse(map[string]any{
		"groups": map[string]any{"g1": "launch_time", "g2": "launch_time.year == 2024", "g3": "launch_time < 1"},
		"keyed_groups": []any{
			map[string]any{"key": "launch_time"},
			map[string]any{"key": "[launch_time]", "prefix": "l"},
			map[string]any{"key": "launch_time.year", "prefix": "y"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Apply(datetimeVars())
	if err != nil {
		t.Fatal(err)
	}
	want := "_2024_01_02_03_04_05_00_00 g1 g2 l__datetime_datetime_2024__1__2__3__4__5__tzinfo_tzutc____ y_2024"
	if got := strings.Join(res.Groups, " "); got != want {
		t.Errorf("groups %s\nAnsible  %s", got, want)
	}
}
