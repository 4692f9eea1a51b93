package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/rosterhq/roster/internal/client"
)

// The API takes an inventory's or a credential's name wherever it takes
// its id. For the other kinds the CLI turns a name into an id here, from
// the list endpoints.

// isNotFound says whether err is the API's 404.
func isNotFound(err error) bool {
	var apiErr *client.Error
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound
}

// resolveSource finds a source by its id, by INVENTORY/NAME, or by a
// name that no source of another inventory has: the API resolves all
// three, and says which INVENTORY/NAME to give when a name is ambiguous.
func resolveSource(ctx context.Context, c *client.Client, ref string) (client.Source, json.RawMessage, error) {
	r, err := client.Decode[client.Source](c.GetSource(ctx, ref))
	if err != nil {
		if isNotFound(err) {
			return client.Source{}, nil, fmt.Errorf("no source %s (give its id, INVENTORY/NAME, or its name)", ref)
		}
		return client.Source{}, nil, err
	}
	return r.Value, r.JSON, nil
}

// resolveHost finds a host of an inventory by its id or its name.
func resolveHost(ctx context.Context, c *client.Client, inventory, ref string) (client.Host, json.RawMessage, error) {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		r, err := client.Decode[client.Host](c.GetHost(ctx, inventory, id))
		if err == nil {
			return r.Value, r.JSON, nil
		}
		if !isNotFound(err) {
			return client.Host{}, nil, err
		}
	}
	if strings.Contains(ref, "*") {
		return client.Host{}, nil, fmt.Errorf("host %s: give one host's name or id (host list --name takes patterns)", ref)
	}
	l, err := fetchList[client.Host](func(cursor *string) (*http.Response, error) {
		return c.ListHosts(ctx, inventory, &client.ListHostsParams{Name: &ref, Cursor: cursor})
	}, 0)
	if err != nil {
		return client.Host{}, nil, err
	}
	switch len(l.values) {
	case 0:
		return client.Host{}, nil, fmt.Errorf("inventory %s has no host %s", inventory, ref)
	case 1:
		return l.values[0], l.raw[0], nil
	}
	var ids []string
	for _, h := range l.values {
		ids = append(ids, strconv.FormatInt(h.Id, 10))
	}
	return client.Host{}, nil, fmt.Errorf("several hosts of %s are named %s (of several sources): give its id (%s)", inventory, ref, strings.Join(ids, ", "))
}

// findIn finds one object of a list by id or name.
func findIn[T any](l list[T], ref string, id, name func(T) string) (T, json.RawMessage, bool) {
	for i, v := range l.values {
		if id(v) == ref {
			return v, l.raw[i], true
		}
	}
	var hit []int
	for i, v := range l.values {
		if name != nil && name(v) == ref {
			hit = append(hit, i)
		}
	}
	if len(hit) == 1 {
		return l.values[hit[0]], l.raw[hit[0]], true
	}
	var zero T
	return zero, nil, false
}

// resolveWebhook finds a webhook by its id or its name.
func resolveWebhook(ctx context.Context, c *client.Client, ref string) (client.Webhook, json.RawMessage, error) {
	if uuid.Validate(ref) == nil {
		r, err := client.Decode[client.Webhook](c.GetWebhook(ctx, ref))
		if err == nil {
			return r.Value, r.JSON, nil
		}
		if !isNotFound(err) {
			return client.Webhook{}, nil, err
		}
	}
	l, err := fetchList[client.Webhook](func(*string) (*http.Response, error) { return c.ListWebhooks(ctx, nil) }, 0)
	if err != nil {
		return client.Webhook{}, nil, err
	}
	if w, raw, ok := findIn(l, ref, func(w client.Webhook) string { return w.Id }, func(w client.Webhook) string { return w.Name }); ok {
		return w, raw, nil
	}
	return client.Webhook{}, nil, fmt.Errorf("no webhook %s (or several of that name: give its id)", ref)
}
