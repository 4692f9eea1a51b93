// Package client is the client of Roster's REST API used by the roster
// command's remote subcommands and roster-inventory. Client carries the
// typed client generated from openapi.yaml (client.gen.go: one method
// per operation, the API's types) over a transport that never sends the
// token where it must not go, and Do/Call for untyped requests.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// Client calls one Roster server with one token. Its embedded APIClient
// has a method per operation of openapi.yaml (c.ListInventories(ctx),
// ...); Decode reads their answers.
type Client struct {
	base  string // the server's URL + /api/v1, for Do and Call
	token roster.Secret
	http  *http.Client
	*APIClient
}

// New returns a client of the server at base that trusts the system's
// certificate authorities.
func New(base string, token roster.Secret) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	return newClient(base, token, tr)
}

// NewWithTLS returns a client of the server at base that trusts what t
// says. It refuses a base URL the token must not be sent to (see
// CheckURL) and TLS files it cannot use, before any connection.
func NewWithTLS(base string, token roster.Secret, t TLS) (*Client, error) {
	if err := CheckURL(base); err != nil {
		return nil, err
	}
	tr, err := Transport(t)
	if err != nil {
		return nil, err
	}
	return newClient(base, token, tr), nil
}

func newClient(base string, token roster.Secret, tr *http.Transport) *Client {
	hc := HTTPClient(tr)
	hc.Timeout = 30 * time.Second
	root := strings.TrimRight(base, "/")
	c := &Client{base: root + "/api/v1", token: token, http: hc}
	// NewClient fails only on an option's error; these have none.
	c.APIClient, _ = NewClient(root, WithHTTPClient(doer{c}))
	return c
}

// doer sends the typed client's requests as Call sends its own.
type doer struct{ c *Client }

func (d doer) Do(req *http.Request) (*http.Response, error) { return d.c.send(req) }

// send sends req with the token, and says in the user's words why no
// answer came.
func (c *Client) send(req *http.Request) (*http.Response, error) {
	if c.token != "" { // signing in goes without
		req.Header.Set("Authorization", "Bearer "+c.token.Reveal())
	}
	resp, err := c.http.Do(req)
	if err == nil {
		return resp, nil
	}
	var plain *PlainHTTPError
	var redirect *RedirectError
	switch {
	case errors.As(err, &plain):
		return nil, plain
	case errors.As(err, &redirect):
		return nil, fmt.Errorf("%v, not followed so that the API token is not sent to another server: if that is Roster's address, set ROSTER_URL to it", redirect)
	}
	if hint := TLSHint(err); hint != "" {
		return nil, fmt.Errorf("cannot reach Roster: %s (%v)", hint, innerError(err))
	}
	return nil, fmt.Errorf("cannot reach Roster: %v", innerError(err))
}

// maxAnswer bounds an answer read into memory.
const maxAnswer = 256 << 20

// Response is a decoded answer of the typed client: the value, and the
// JSON it was decoded from (what `-o json` prints, as the server sent it).
type Response[T any] struct {
	Status int
	Value  T
	JSON   json.RawMessage
}

// Decode reads an answer of the typed client (pass its two results): a
// success is decoded into a T (nothing for 204), a problem becomes an
// *Error, and err passes through.
func Decode[T any](resp *http.Response, err error) (*Response[T], error) {
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("read Roster's answer: %v", err)
	}
	if resp.StatusCode >= 300 {
		return nil, problem(resp.StatusCode, data)
	}
	r := &Response[T]{Status: resp.StatusCode, JSON: data}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &r.Value); err != nil {
			return nil, fmt.Errorf("decode Roster's answer: %v", err)
		}
	}
	return r, nil
}

// problem is the *Error an answer with status >= 300 says.
func problem(status int, data []byte) *Error {
	var p struct {
		Code   string              `json:"code"`
		Detail string              `json:"detail"`
		Errors []roster.FieldError `json:"errors"`
	}
	json.Unmarshal(data, &p)
	return &Error{Status: status, Code: p.Code, Detail: p.Detail, Fields: p.Errors}
}

// Error is a problem the server answered with.
type Error struct {
	Status int
	Code   string
	Detail string
	Fields []roster.FieldError
}

func (e *Error) Error() string {
	// One line, whatever the server wrote.
	msg := strings.Join(strings.Fields(e.Detail), " ")
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	for i, f := range e.Fields {
		if i == 0 {
			msg += ": "
		} else {
			msg += "; "
		}
		msg += f.Field + ": " + f.Message
	}
	return msg
}

// Do sends a request with a JSON body (nil for none) and decodes a JSON
// answer into out (nil to discard it).
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	_, err := c.Call(ctx, method, path, body, out)
	return err
}

// Call is Do that also returns the HTTP status (0 when none came).
func (c *Client) Call(ctx context.Context, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.send(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("read Roster's answer: %v", err)
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, problem(resp.StatusCode, data)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode Roster's answer: %v", err)
		}
	}
	return resp.StatusCode, nil
}

// innerError is a transport error without the *url.Error around it,
// which shows the URL (and its query).
func innerError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// PathEscape escapes one path segment.
func PathEscape(s string) string { return url.PathEscape(s) }
