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

// New returns a client of the server at base.
func New(base string, token roster.Secret) *Client {
	return &Client{base: strings.TrimRight(base, "/") + "/api/v1", token: token, http: &http.Client{Timeout: 30 * time.Second}}
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
		var ue *url.Error
		if errors.As(err, &ue) {
			return 0, fmt.Errorf("cannot reach Roster: %v", ue.Err)
		}
		return 0, fmt.Errorf("cannot reach Roster: %v", err)
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

// PathEscape escapes one path segment.
func PathEscape(s string) string { return url.PathEscape(s) }
