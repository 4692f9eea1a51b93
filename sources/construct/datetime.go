package construct

import (
	"strconv"
	"strings"
	"time"
)

// Datetime is a host var that the Ansible plugin hands to templates as a
// Python datetime, not as text: boto3 parses every timestamp of an EC2
// instance (launch_time, attach_time, ...) into a timezone-aware UTC
// datetime.datetime, so in aws_ec2's compose, groups and keyed_groups
// launch_time.year is a number and launch_time|string reads
// "2024-01-02 03:04:05+00:00". A provider puts a Datetime in its host vars
// where the plugin has one.
//
// Outside templates a Datetime is the text ansible-inventory prints for
// it: its JSON encoding is isoformat() ("2024-01-02T03:04:05+00:00"), as
// AnsibleJSONEncoder writes a datetime, so stored host vars are what the
// plugin's inventory holds.
//
// In templates it supports what users reach for (checked against
// ansible-core 2.14 with boto3's datetimes):
//   - str() (|string, ~, {{ }} output, a composed var or keyed group name):
//     "2024-01-02 03:04:05+00:00", ".123000" before the offset when there
//     are microseconds; repr() inside a list or dict's text is
//     "datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=tzutc())";
//   - the attributes year, month, day, hour, minute, second, microsecond;
//   - the methods isoformat(), strftime(format), timestamp(), weekday(),
//     isoweekday() and tzname();
//   - == and != with any value, <, <=, >, >= with another datetime (with
//     anything else they fail, as in Python);
//   - to_json and to_nice_json give isoformat(), type_debug "datetime",
//     int 0 and bool false (Ansible's filters on a datetime).
//
// Not supported: tzinfo, date(), replace(), subtracting datetimes
// (timedelta) and format specs in str.format; they are template errors.
type Datetime struct {
	t time.Time // UTC, at most microsecond precision
}

// NewDatetime returns t as a UTC Python datetime (microsecond precision,
// as Python's).
func NewDatetime(t time.Time) Datetime {
	return Datetime{t: t.UTC().Truncate(time.Microsecond)}
}

// Time returns the datetime as a time.Time in UTC.
func (d Datetime) Time() time.Time { return d.t }

// String is Python's str(datetime): isoformat with a space.
func (d Datetime) String() string { return d.isoformat(' ') }

// MarshalJSON encodes the datetime as ansible-inventory's JSON does:
// isoformat().
func (d Datetime) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 34)
	b = append(b, '"')
	b = append(b, d.isoformat('T')...)
	return append(b, '"'), nil
}

// isoformat is Python's datetime.isoformat(sep) for a UTC datetime.
func (d Datetime) isoformat(sep byte) string {
	layout := "2006-01-02T15:04:05+00:00"
	if d.t.Nanosecond() != 0 {
		layout = "2006-01-02T15:04:05.000000+00:00"
	}
	s := d.t.Format(layout)
	if sep != 'T' {
		s = s[:10] + string(sep) + s[11:]
	}
	return s
}

// repr is Python's repr(datetime) for boto3's UTC datetimes (dateutil's
// tzutc).
func (d Datetime) repr() string {
	t := d.t
	var b strings.Builder
	b.WriteString("datetime.datetime(")
	parts := []int{t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond() / 1000}
	// Python leaves out trailing zero seconds and microseconds, never the
	// hour or minute.
	n := len(parts)
	for n > 5 && parts[n-1] == 0 {
		n--
	}
	for i, p := range parts[:n] {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(p))
	}
	b.WriteString(", tzinfo=tzutc())")
	return b.String()
}

// datetimeSize is about the length of a datetime's JSON or str().
const datetimeSize = 34

func datetimeAttr(d Datetime, name string) any {
	t := d.t
	switch name {
	case "year":
		return int64(t.Year())
	case "month":
		return int64(t.Month())
	case "day":
		return int64(t.Day())
	case "hour":
		return int64(t.Hour())
	case "minute":
		return int64(t.Minute())
	case "second":
		return int64(t.Second())
	case "microsecond":
		return int64(t.Nanosecond() / 1000)
	case "isoformat", "strftime", "timestamp", "weekday", "isoweekday", "tzname":
		return &method{recv: d, name: name}
	}
	return nil
}

func callDatetimeMethod(e *env, d Datetime, name string, args []any, arg func(int, string) (any, bool)) (any, error) {
	noArgs := func() error {
		if len(args) > 0 {
			return errorf("%s() takes no arguments (%d given)", name, len(args))
		}
		return nil
	}
	switch name {
	case "isoformat":
		sep := byte('T')
		if v, ok := arg(0, "sep"); ok {
			s, isStr := v.(string)
			if !isStr || len(s) != 1 {
				return nil, errorf("isoformat() argument 1 must be a unicode character, not %s", typeName(v))
			}
			sep = s[0]
		}
		if len(args) > 1 {
			return nil, errorf("isoformat(): timespec is not supported")
		}
		return d.isoformat(sep), nil
	case "strftime":
		v, ok := arg(0, "format")
		if !ok {
			return nil, errorf("strftime() missing required argument 'format' (pos 1)")
		}
		f, isStr := v.(string)
		if !isStr {
			return nil, errorf("strftime() argument 1 must be str, not %s", typeName(v))
		}
		return strftime(e, d.t, f)
	case "timestamp":
		if err := noArgs(); err != nil {
			return nil, err
		}
		return float64(d.t.Unix()) + float64(d.t.Nanosecond()/1000)/1e6, nil
	case "weekday":
		if err := noArgs(); err != nil {
			return nil, err
		}
		return int64((d.t.Weekday() + 6) % 7), nil
	case "isoweekday":
		if err := noArgs(); err != nil {
			return nil, err
		}
		return int64((d.t.Weekday()+6)%7 + 1), nil
	case "tzname":
		if err := noArgs(); err != nil {
			return nil, err
		}
		return "UTC", nil
	}
	return nil, errorf("method '%s' of 'datetime' objects is not available", name)
}

var (
	weekdays = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	months   = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
)

// strftime is Python's datetime.strftime in the C locale, for a UTC
// datetime. Directives glibc does not know are written as they are, as
// Python on Linux does. Each directive writes at most 30 bytes: the result
// is checked against the limit per value as it grows.
func strftime(e *env, t time.Time, f string) (any, error) {
	if err := e.tick(len(f) / 16); err != nil {
		return nil, err
	}
	var b strings.Builder
	pad := func(n, w int) {
		s := strconv.Itoa(n)
		for i := len(s); i < w; i++ {
			b.WriteByte('0')
		}
		b.WriteString(s)
	}
	space := func(n int) {
		if n < 10 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(n))
	}
	hour12 := func() int {
		h := t.Hour() % 12
		if h == 0 {
			h = 12
		}
		return h
	}
	for i := 0; i < len(f); i++ {
		if int64(b.Len()) > e.b.value {
			return nil, e.overValue()
		}
		c := f[i]
		if c != '%' || i+1 == len(f) {
			b.WriteByte(c)
			continue
		}
		i++
		switch f[i] {
		case 'a':
			b.WriteString(weekdays[t.Weekday()][:3])
		case 'A':
			b.WriteString(weekdays[t.Weekday()])
		case 'w':
			b.WriteString(strconv.Itoa(int(t.Weekday())))
		case 'u':
			b.WriteString(strconv.Itoa(int((t.Weekday()+6)%7 + 1)))
		case 'd':
			pad(t.Day(), 2)
		case 'e':
			space(t.Day())
		case 'b', 'h':
			b.WriteString(months[t.Month()-1][:3])
		case 'B':
			b.WriteString(months[t.Month()-1])
		case 'm':
			pad(int(t.Month()), 2)
		case 'y':
			pad(t.Year()%100, 2)
		case 'Y':
			b.WriteString(strconv.Itoa(t.Year()))
		case 'C':
			pad(t.Year()/100, 2)
		case 'H':
			pad(t.Hour(), 2)
		case 'k':
			space(t.Hour())
		case 'I':
			pad(hour12(), 2)
		case 'l':
			space(hour12())
		case 'p':
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		case 'M':
			pad(t.Minute(), 2)
		case 'S':
			pad(t.Second(), 2)
		case 'f':
			pad(t.Nanosecond()/1000, 6)
		case 'z':
			b.WriteString("+0000")
		case 'Z':
			b.WriteString("UTC")
		case 'j':
			pad(t.YearDay(), 3)
		case 's':
			b.WriteString(strconv.FormatInt(t.Unix(), 10))
		case 'G':
			y, _ := t.ISOWeek()
			b.WriteString(strconv.Itoa(y))
		case 'V':
			_, w := t.ISOWeek()
			pad(w, 2)
		case 'U':
			pad((t.YearDay()+6-int(t.Weekday()))/7, 2)
		case 'W':
			pad((t.YearDay()+6-int((t.Weekday()+6)%7))/7, 2)
		case 'c':
			b.WriteString(t.Format("Mon Jan _2 15:04:05 2006"))
		case 'x':
			b.WriteString(t.Format("01/02/06"))
		case 'X', 'T':
			b.WriteString(t.Format("15:04:05"))
		case 'D':
			b.WriteString(t.Format("01/02/06"))
		case 'F':
			b.WriteString(strconv.Itoa(t.Year()))
			b.WriteString(t.Format("-01-02"))
		case 'R':
			b.WriteString(t.Format("15:04"))
		case 'r':
			b.WriteString(t.Format("03:04:05 PM"))
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(f[i])
		}
	}
	if err := e.build(int64(b.Len())); err != nil {
		return nil, err
	}
	return b.String(), nil
}
