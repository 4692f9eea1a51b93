package gitops

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// API is what this package needs of Roster's REST client
// (internal/client.Client): one JSON request at a time.
type API interface {
	Do(ctx context.Context, method, path string, body, out any) error
}

// The server's resources as its API shows them (the fields apply uses).
type (
	apiInventory struct {
		ID           string         `json:"id"`
		Name         string         `json:"name"`
		Description  string         `json:"description"`
		NamePolicy   string         `json:"name_policy"`
		PrometheusSD map[string]any `json:"prometheus_sd"`
		Kind         string         `json:"kind"`
		InputNames   []string       `json:"input_names"`
		HostFilter   string         `json:"host_filter"`
		SourceVars   map[string]any `json:"source_vars"`
		Limit        string         `json:"limit"`
	}
	apiSource struct {
		ID                 string         `json:"id"`
		InventoryID        string         `json:"inventory_id"`
		Name               string         `json:"name"`
		Provider           string         `json:"provider"`
		Config             map[string]any `json:"config"`
		OnMissing          string         `json:"on_missing"`
		Credential         string         `json:"credential"`
		Schedule           string         `json:"schedule"`
		ScheduleJitter     string         `json:"schedule_jitter"`
		Timeout            string         `json:"timeout"`
		UpdateCacheTimeout int            `json:"update_cache_timeout"`
		Warnings           []string       `json:"warnings"`
	}
	apiCredential struct {
		ID          string            `json:"id"`
		Name        string            `json:"name"`
		Type        string            `json:"type"`
		Description string            `json:"description"`
		Fields      map[string]string `json:"fields"`
		SecretsSet  []string          `json:"secrets_set"`
	}
	apiCredentialType struct {
		Type   string `json:"type"`
		Fields []struct {
			Name     string `json:"name"`
			Secret   bool   `json:"secret"`
			Required bool   `json:"required"`
		} `json:"fields"`
	}
	apiGrant struct {
		ID           string `json:"id"`
		TokenID      string `json:"token_id"`
		CredentialID string `json:"credential_id"`
		InventoryID  string `json:"inventory_id"`
	}
	apiToken struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	apiWebhook struct {
		ID               string            `json:"id"`
		Name             string            `json:"name"`
		InventoryID      string            `json:"inventory_id"`
		SourceID         string            `json:"source_id"`
		Type             string            `json:"type"`
		Format           string            `json:"format"`
		Events           []string          `json:"events"`
		Enabled          bool              `json:"enabled"`
		AllowInsecure    bool              `json:"allow_insecure"`
		URL              string            `json:"url"`
		HasSigningSecret bool              `json:"has_signing_secret"`
		SecretsSet       []string          `json:"secrets_set"`
		Username         string            `json:"username"`
		IRC              *WebhookIRC       `json:"irc"`
		Email            *WebhookEmail     `json:"email"`
		PagerDuty        *WebhookPagerDuty `json:"pagerduty"`
	}
)

// State is what the server holds, indexed as the documents name things.
type State struct {
	Inventories     map[string]*apiInventory  // by name
	Sources         map[string]*apiSource     // by INVENTORY/NAME
	Credentials     map[string]*apiCredential // by name
	Grants          map[string]*apiGrant      // by TOKEN/CREDENTIAL/INVENTORY
	Webhooks        map[string]*apiWebhook    // by INVENTORY/NAME
	EventSinks      map[string]*apiEventSink  // by name
	CredentialTypes map[string]*apiCredentialType
	Tokens          map[string]string // name by id

	invByID   map[string]*apiInventory
	srcByID   map[string]*apiSource
	credByID  map[string]*apiCredential
	tokenByNm map[string]string // id by name
}

// Fetch reads the server's inventories, sources, credentials, grants,
// tokens (names only) and webhooks. It needs an admin token: only an
// admin sees every token and webhook.
func Fetch(ctx context.Context, api API) (*State, error) {
	s := &State{
		Inventories: map[string]*apiInventory{}, Sources: map[string]*apiSource{},
		Credentials: map[string]*apiCredential{}, Grants: map[string]*apiGrant{},
		Webhooks: map[string]*apiWebhook{}, CredentialTypes: map[string]*apiCredentialType{},
		Tokens: map[string]string{}, invByID: map[string]*apiInventory{}, srcByID: map[string]*apiSource{},
		credByID: map[string]*apiCredential{}, tokenByNm: map[string]string{},
	}
	var invs struct{ Items []*apiInventory }
	if err := api.Do(ctx, "GET", "/inventories", nil, &invs); err != nil {
		return nil, fmt.Errorf("list inventories: %w", err)
	}
	for _, inv := range invs.Items {
		s.Inventories[inv.Name] = inv
		s.invByID[inv.ID] = inv
		var srcs struct{ Items []*apiSource }
		if err := api.Do(ctx, "GET", "/inventories/"+url.PathEscape(inv.ID)+"/sources", nil, &srcs); err != nil {
			return nil, fmt.Errorf("list the sources of inventory %s: %w", inv.Name, err)
		}
		for _, src := range srcs.Items {
			if inv.Kind == "smart" || inv.Kind == "constructed" {
				continue // the inventory's own source: declared by the inventory
			}
			s.Sources[inv.Name+"/"+src.Name] = src
			s.srcByID[src.ID] = src
		}
	}
	var creds struct{ Items []*apiCredential }
	if err := api.Do(ctx, "GET", "/credentials", nil, &creds); err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	for _, c := range creds.Items {
		s.Credentials[c.Name] = c
		s.credByID[c.ID] = c
	}
	var types struct{ Items []*apiCredentialType }
	if err := api.Do(ctx, "GET", "/credential-types", nil, &types); err != nil {
		return nil, fmt.Errorf("list credential types: %w", err)
	}
	for _, t := range types.Items {
		s.CredentialTypes[t.Type] = t
	}
	var tokens struct{ Items []*apiToken }
	if err := api.Do(ctx, "GET", "/tokens", nil, &tokens); err != nil {
		return nil, fmt.Errorf("list tokens (apply and export need an admin token): %w", err)
	}
	for _, t := range tokens.Items {
		s.Tokens[t.ID] = t.Name
		s.tokenByNm[t.Name] = t.ID
	}
	var grants struct{ Items []*apiGrant }
	if err := api.Do(ctx, "GET", "/grants", nil, &grants); err != nil {
		return nil, fmt.Errorf("list grants: %w", err)
	}
	for _, g := range grants.Items {
		tok, cred, inv := s.Tokens[g.TokenID], s.credByID[g.CredentialID], s.invByID[g.InventoryID]
		if tok == "" || cred == nil || inv == nil {
			continue // of a token, credential or inventory this token does not see
		}
		s.Grants[grantKey(tok, cred.Name, inv.Name)] = g
	}
	var hooks struct{ Items []*apiWebhook }
	if err := api.Do(ctx, "GET", "/webhooks", nil, &hooks); err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	for _, w := range hooks.Items {
		if inv := s.invByID[w.InventoryID]; inv != nil {
			s.Webhooks[inv.Name+"/"+w.Name] = w
		}
	}
	if err := fetchEventSinks(ctx, api, s); err != nil {
		return nil, err
	}
	return s, nil
}

// sourceKey names a source by INVENTORY/NAME.
func (s *State) sourceKey(src *apiSource) string {
	if inv := s.invByID[src.InventoryID]; inv != nil {
		return inv.Name + "/" + src.Name
	}
	return src.ID
}

// credentialName is the name of the credential with id (or id itself).
func (s *State) credentialName(id string) string {
	if id == "" {
		return ""
	}
	if c := s.credByID[id]; c != nil {
		return c.Name
	}
	return id
}

// secretFields are the secret fields of a credential type.
func (s *State) secretFields(typ string) map[string]bool {
	out := map[string]bool{}
	if t := s.CredentialTypes[typ]; t != nil {
		for _, f := range t.Fields {
			if f.Secret {
				out[f.Name] = true
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// envName makes an environment variable name of parts: upper case,
// anything but letters and digits an underscore.
func envName(parts ...string) string {
	s := strings.ToUpper(strings.Join(parts, "_"))
	return strings.Map(func(r rune) rune {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, s)
}
