// Package client is a small client of Roster's REST API for the roster
// command's remote subcommands (exec, credential, grant).
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

// Client calls one Roster server with one token.
type Client struct {
	base  string
	token roster.Secret
	http  *http.Client
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
	return &Client{base: strings.TrimRight(base, "/") + "/api/v1", token: token, http: hc}
}

// Error is a problem the server answered with.
type Error struct {
	Status int
	Code   string
	Detail string
	Fields []roster.FieldError
}

func (e *Error) Error() string {
	msg := e.Detail
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
	req.Header.Set("Authorization", "Bearer "+c.token.Reveal())
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var plain *PlainHTTPError
		var redirect *RedirectError
		switch {
		case errors.As(err, &plain):
			return 0, plain
		case errors.As(err, &redirect):
			return 0, fmt.Errorf("%v, not followed so that the API token is not sent to another server: if that is Roster's address, set ROSTER_URL to it", redirect)
		}
		if hint := TLSHint(err); hint != "" {
			return 0, fmt.Errorf("cannot reach Roster: %s (%v)", hint, innerError(err))
		}
		return 0, fmt.Errorf("cannot reach Roster: %v", innerError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("read Roster's answer: %v", err)
	}
	if resp.StatusCode >= 300 {
		var p struct {
			Code   string              `json:"code"`
			Detail string              `json:"detail"`
			Errors []roster.FieldError `json:"errors"`
		}
		json.Unmarshal(data, &p)
		return resp.StatusCode, &Error{Status: resp.StatusCode, Code: p.Code, Detail: p.Detail, Fields: p.Errors}
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
