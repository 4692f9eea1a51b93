package forward

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// httpTransport posts a batch in one request: to a Splunk HTTP Event
// Collector (concatenated envelopes) or a logstash/Elastic-style JSON input
// (ndjson or an array).
type httpTransport struct {
	client *http.Client
	url    string
	target string // for errors: scheme://host/…, never the path or query
	header http.Header
	encode func([]*Event) ([]byte, string)
}

func newHTTP(s *roster.EventSink, secrets roster.SecretFields, node string) (*httpTransport, error) {
	u, err := url.Parse(s.Config.URL)
	if err != nil {
		return nil, roster.Invalid(roster.FieldError{Field: "url", Message: "is not a URL"})
	}
	t := &httpTransport{
		client: &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect would carry the token elsewhere
		}},
		target: s.Target(),
		header: http.Header{"User-Agent": {"roster-forward"}},
	}
	switch s.Type {
	case roster.SinkHEC:
		if u.Path == "" || u.Path == "/" {
			u.Path = "/services/collector/event"
		}
		t.header.Set("Authorization", "Splunk "+secrets[roster.SinkSecretToken].Reveal())
		t.encode = hecEncoder(s.Config, node)
	case roster.SinkHTTPJSON:
		if p, ok := secrets[roster.SinkSecretPassword]; ok {
			req := &http.Request{Header: http.Header{}}
			req.SetBasicAuth(s.Config.Username, p.Reveal())
			t.header.Set("Authorization", req.Header.Get("Authorization"))
		} else if b, ok := secrets[roster.SinkSecretBearerToken]; ok {
			t.header.Set("Authorization", "Bearer "+b.Reveal())
		}
		t.encode = ndjson
		if s.Config.Format == "array" {
			t.encode = jsonArray
		}
	default:
		return nil, fmt.Errorf("sink type %q does not post over HTTP", s.Type)
	}
	t.url = u.String()
	return t, nil
}

// hecEvent is one HEC envelope (Splunk "Format events for HTTP Event
// Collector"); time is epoch seconds.
type hecEvent struct {
	Time       float64         `json:"time"`
	Host       string          `json:"host,omitempty"`
	Source     string          `json:"source"`
	SourceType string          `json:"sourcetype"`
	Index      string          `json:"index,omitempty"`
	Event      json.RawMessage `json:"event"`
}

// hecEncoder writes envelopes one after the other, which HEC takes as a
// batch (it takes no JSON array).
func hecEncoder(c roster.EventSinkConfig, node string) func([]*Event) ([]byte, string) {
	source := c.Source
	if source == "" {
		source = "roster"
	}
	return func(batch []*Event) ([]byte, string) {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		for _, e := range batch {
			st := c.SourceType
			if st == "" {
				st = "roster:" + e.Type
			}
			_ = enc.Encode(hecEvent{Time: float64(e.Time.UnixMicro()) / 1e6, Host: node, Source: source, SourceType: st,
				Index: c.Index, Event: e.JSON()})
		}
		return b.Bytes(), "application/json"
	}
}

func ndjson(batch []*Event) ([]byte, string) {
	var b bytes.Buffer
	for _, e := range batch {
		b.Write(e.JSON())
		b.WriteByte('\n')
	}
	return b.Bytes(), "application/x-ndjson"
}

func jsonArray(batch []*Event) ([]byte, string) {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, e := range batch {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(e.JSON())
	}
	b.WriteByte(']')
	return b.Bytes(), "application/json"
}

func (t *httpTransport) send(ctx context.Context, batch []*Event) (int, error) {
	body, ctype := t.encode(batch)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return 0, permanent(fmt.Errorf("POST %s: %w", t.target, scrubURL(err)))
	}
	req.Header = t.header.Clone()
	req.Header.Set("Content-Type", ctype)
	resp, err := t.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("POST %s: %w", t.target, scrubURL(err))
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 2 {
		return 0, nil
	}
	err = fmt.Errorf("POST %s: HTTP %d %s", t.target, resp.StatusCode, oneLine(reply))
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 ||
		resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		// Busy, down, or a token being rotated: the batch may go later.
		return 0, retryAfter(err, resp.Header.Get("Retry-After"))
	}
	// The receiver refuses the batch as it is: sending it again would not help.
	return len(batch), permanent(err)
}

func (t *httpTransport) close() { t.client.CloseIdleConnections() }

// scrubURL keeps a request error's cause without its URL, whose path or
// query may hold a key.
func scrubURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// oneLine is a reply fit for an error: printable, one line, bounded.
func oneLine(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, string(b))
	return clipTo(strings.TrimSpace(s), 200)
}

func clipTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// retryAfter attaches a Retry-After (seconds) to err.
func retryAfter(err error, header string) error {
	secs, perr := strconv.Atoi(strings.TrimSpace(header))
	if perr != nil || secs <= 0 {
		return err
	}
	return &sendError{err: err, after: min(time.Duration(secs)*time.Second, maxBackoff)}
}
