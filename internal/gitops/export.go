package gitops

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Export returns the documents that declare what the server holds, in
// apply's order, each kind by name. Secrets are never exported: a
// credential's secret fields, and a webhook's URL and signing secret,
// are written as references to environment variables
// (CREDENTIAL_<NAME>_<FIELD>, WEBHOOK_<INVENTORY>_<NAME>_URL, ...) that
// apply will read. Apply's ownership records are left out.
func Export(st *State) []Document {
	var docs []Document
	for _, name := range sortedKeys(st.Inventories) {
		inv := st.Inventories[name]
		text, _ := splitOwner(inv.Description)
		d := &Inventory{Name: inv.Name, Description: text, PrometheusSD: inv.PrometheusSD}
		if inv.NamePolicy != "merge" {
			d.NamePolicy = inv.NamePolicy
		}
		if len(d.PrometheusSD) == 0 {
			d.PrometheusSD = nil
		}
		if inv.Kind == "smart" || inv.Kind == "constructed" {
			d.InventoryKind, d.Inputs, d.HostFilter, d.Limit = inv.Kind, inv.InputNames, inv.HostFilter, inv.Limit
			if len(inv.SourceVars) > 0 {
				d.SourceVars = inv.SourceVars
			}
		}
		docs = append(docs, Document{Kind: KindInventory, Inventory: d})
	}
	for _, name := range sortedKeys(st.Credentials) {
		c := st.Credentials[name]
		text, _ := splitOwner(c.Description)
		d := &Credential{Name: c.Name, Type: c.Type, Description: text, Fields: map[string]Value{}}
		for k, v := range c.Fields {
			if v != "" {
				d.Fields[k] = Value{Literal: v}
			}
		}
		for _, k := range c.SecretsSet {
			d.Fields[k] = Value{Env: envName("credential", c.Name, k)}
		}
		if len(d.Fields) == 0 {
			d.Fields = nil
		}
		docs = append(docs, Document{Kind: KindCredential, Credential: d})
	}
	for _, key := range sortedKeys(st.Sources) {
		s := st.Sources[key]
		inv, _, _ := strings.Cut(key, "/")
		d := &Source{Inventory: inv, Name: s.Name, Provider: s.Provider, Credential: st.credentialName(s.Credential),
			Schedule: s.Schedule, ScheduleJitter: s.ScheduleJitter, Timeout: s.Timeout,
			UpdateCacheTimeout: s.UpdateCacheTimeout, Config: s.Config}
		if s.OnMissing != "remove" {
			d.OnMissing = s.OnMissing
		}
		if p, _ := s.Config["plugin"].(string); p != "" && ProviderOfPlugin(p) == s.Provider {
			d.Provider = "" // the plugin key says it
		}
		docs = append(docs, Document{Kind: KindSource, Source: d})
	}
	for _, key := range sortedKeys(st.Grants) {
		p := strings.SplitN(key, "/", 3)
		docs = append(docs, Document{Kind: KindGrant, Grant: &Grant{Token: p[0], Credential: p[1], Inventory: p[2]}})
	}
	for _, key := range sortedKeys(st.Webhooks) {
		w := st.Webhooks[key]
		inv, _, _ := strings.Cut(key, "/")
		d := &Webhook{Name: w.Name, Events: w.Events, AllowInsecure: w.AllowInsecure, Username: w.Username}
		typ := w.Type
		if typ == "" {
			typ = map[string]string{"generic": "webhook", "": "webhook"}[w.Format]
			if typ == "" {
				typ = w.Format
			}
		}
		if typ != "webhook" {
			d.Type = typ
		}
		if usesURL(typ) {
			d.URL = Value{Env: envName("webhook", inv, w.Name, "url")}
		}
		exportSettings(d, w, func(field string) *Value {
			if !slices.Contains(w.SecretsSet, field) {
				return nil
			}
			return &Value{Env: envName("webhook", inv, w.Name, field)}
		})
		if w.SourceID != "" {
			if src := st.srcByID[w.SourceID]; src != nil {
				d.Source = st.sourceKey(src)
			}
		}
		if d.Source == "" {
			d.Inventory = inv
		}
		if !w.Enabled {
			d.Enabled = new(bool)
		}
		if w.HasSigningSecret {
			d.SigningSecret = &Value{Env: envName("webhook", inv, w.Name, "signing_secret")}
		}
		docs = append(docs, Document{Kind: KindWebhook, Webhook: d})
	}
	return append(docs, exportEventSinks(st)...)
}

// exportSettings copies a target's per-type map, its secrets as
// references (ref gives nil for a secret the server does not hold).
func exportSettings(d *Webhook, w *apiWebhook, ref func(field string) *Value) {
	if c := w.IRC; c != nil {
		x := *c
		if x.TLS != nil && *x.TLS {
			x.TLS = nil // the default
		}
		x.ServerPassword, x.NickServPassword, x.ChannelKey = ref("server_password"), ref("nickserv_password"), ref("channel_key")
		d.IRC = &x
	}
	if c := w.Email; c != nil {
		x := *c
		x.Password = ref("password")
		d.Email = &x
	}
	if c := w.PagerDuty; c != nil {
		x := *c
		x.RoutingKey = ref("routing_key")
		d.PagerDuty = &x
	}
}

// Marshal writes documents as a YAML stream, one document each, with
// their kind first.
func Marshal(docs []Document) ([]byte, error) {
	var buf bytes.Buffer
	for i, d := range docs {
		var v any
		switch d.Kind {
		case KindInventory:
			v = d.Inventory
		case KindSource:
			v = d.Source
		case KindCredential:
			v = d.Credential
		case KindGrant:
			v = d.Grant
		case KindWebhook:
			v = d.Webhook
		case KindEventSink:
			v = d.EventSink
		}
		var n yaml.Node
		if err := n.Encode(v); err != nil {
			return nil, fmt.Errorf("%s %s: %w", d.Kind, d.Key(), err)
		}
		n.Content = append([]*yaml.Node{
			{Kind: yaml.ScalarNode, Value: "kind"},
			{Kind: yaml.ScalarNode, Value: d.Kind},
		}, n.Content...)
		if i > 0 {
			buf.WriteString("---\n")
		}
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(&n); err != nil {
			return nil, err
		}
		enc.Close()
	}
	return buf.Bytes(), nil
}
