package gitops

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/rosterhq/roster"
)

// Options say how a plan is made.
type Options struct {
	// Prune deletes what apply created and the documents no longer
	// declare.
	Prune bool
	// UpdateSecrets sends every secret the documents reference, even those
	// the server already holds (it cannot show them, so apply cannot tell
	// whether they changed).
	UpdateSecrets bool
	// Resolver reads the secrets.
	Resolver *Resolver
	// DocsFromStdin says the documents were read from stdin.
	DocsFromStdin bool
}

// Change is one create (+), update (~) or delete (-) of a resource.
type Change struct {
	Op     byte // '+', '~' or '-'
	Kind   string
	Key    string
	Fields []string // what an update changes
	Note   string

	do func(ctx context.Context, x *executor) error
}

func (c Change) String() string {
	s := string(c.Op) + " " + c.Kind + " " + c.label()
	if len(c.Fields) > 0 {
		s += ": " + strings.Join(c.Fields, ", ")
	}
	if c.Note != "" {
		s += " (" + c.Note + ")"
	}
	return s
}

func (c Change) label() string {
	if c.Kind == KindGrant {
		p := strings.SplitN(c.Key, "/", 3)
		if len(p) == 3 {
			return fmt.Sprintf("token=%s credential=%s inventory=%s", p[0], p[1], p[2])
		}
	}
	return c.Key
}

// Plan is the changes that bring the server to what the documents
// declare, in order, and what prune left alone, with why.
type Plan struct {
	Changes []Change
	Kept    []string

	state  *State
	owners map[string]owner // inventory and credential records, as they will be
}

// NewPlan compares the documents with the server's state. It checks all
// it can before any change: references, immutable fields, that the
// secrets to send can be read.
func NewPlan(docs []Document, st *State, opts Options) (*Plan, error) {
	if opts.Resolver == nil {
		opts.Resolver = &Resolver{}
	}
	if err := checkStdin(docs, opts.DocsFromStdin); err != nil {
		return nil, err
	}
	byKind := map[string]map[string]Document{}
	for _, k := range kindOrder {
		byKind[k] = map[string]Document{}
	}
	for _, d := range docs {
		if d.Kind == KindSource && d.Source.Provider == "" {
			if p, _ := d.Source.Config["plugin"].(string); p != "" {
				d.Source.Provider = ProviderOfPlugin(p)
			}
		}
		if prev, ok := byKind[d.Kind][d.Key()]; ok {
			return nil, fmt.Errorf("%s: %s %s is declared twice (first at %s)", d.Pos, d.Kind, d.Key(), prev.Pos)
		}
		byKind[d.Kind][d.Key()] = d
	}
	p := &Plan{state: st, owners: map[string]owner{}}
	for name, inv := range st.Inventories {
		if _, o := splitOwner(inv.Description); !o.empty() {
			p.owners["inventory/"+name] = o
		}
	}
	for name, c := range st.Credentials {
		if _, o := splitOwner(c.Description); !o.empty() {
			p.owners["credential/"+name] = o
		}
	}
	b := &planner{Plan: p, st: st, docs: byKind, opts: opts}
	for _, step := range []func() error{b.inventories, b.credentials, b.sources, b.grants, b.webhooks, b.eventSinks} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if opts.Prune {
		b.prune()
	}
	return p, nil
}

type planner struct {
	*Plan
	st   *State
	docs map[string]map[string]Document
	opts Options
}

func (b *planner) add(c Change) { b.Changes = append(b.Changes, c) }

// inventoryKnown reports whether an inventory exists or is declared (and
// not about to be pruned).
func (b *planner) inventoryKnown(name string) bool {
	_, declared := b.docs[KindInventory][name]
	_, exists := b.st.Inventories[name]
	return declared || exists
}

func (b *planner) inventories() error {
	// Plain inventories first: a smart or constructed one names them as
	// its inputs.
	keys := sortedKeys(b.docs[KindInventory])
	slices.SortStableFunc(keys, func(x, y string) int {
		return cmpBool(b.docs[KindInventory][x].Inventory.derived(), b.docs[KindInventory][y].Inventory.derived())
	})
	for _, key := range keys {
		d := b.docs[KindInventory][key]
		inv := d.Inventory
		if inv.NamePolicy == "" {
			inv.NamePolicy = "merge"
		}
		kind := inv.InventoryKind
		if kind == "" {
			kind = "plain"
		}
		if !inv.derived() && (len(inv.Inputs) > 0 || inv.HostFilter != "" || inv.SourceVars != nil || inv.Limit != "") {
			return fmt.Errorf("%s: inventory %s: inputs, host_filter, source_vars and limit need inventory_kind smart or constructed", d.Pos, key)
		}
		for _, in := range inv.Inputs {
			if !b.inventoryKnown(in) {
				return fmt.Errorf("%s: inventory %s: input %s is neither on the server nor declared", d.Pos, key, in)
			}
		}
		cur, ok := b.st.Inventories[inv.Name]
		if ok && cur.Kind != "" && cur.Kind != kind {
			return fmt.Errorf("%s: inventory %s is %s on the server; an inventory's kind never changes (delete it, or name another)", d.Pos, key, cur.Kind)
		}
		if !ok {
			b.owners["inventory/"+inv.Name] = owner{Created: true}
			body := map[string]any{"name": inv.Name, "description": joinOwner(inv.Description, owner{Created: true}), "name_policy": inv.NamePolicy}
			if len(inv.PrometheusSD) > 0 {
				body["prometheus_sd"] = inv.PrometheusSD
			}
			if inv.derived() {
				body["kind"] = kind
				body["inputs"] = inv.Inputs
				if inv.HostFilter != "" {
					body["host_filter"] = inv.HostFilter
				}
				if inv.SourceVars != nil {
					body["source_vars"] = inv.SourceVars
				}
				if inv.Limit != "" {
					body["limit"] = inv.Limit
				}
			}
			b.add(Change{Op: '+', Kind: KindInventory, Key: inv.Name, do: func(ctx context.Context, x *executor) error {
				var out apiInventory
				if err := x.api.Do(ctx, "POST", "/inventories", body, &out); err != nil {
					return err
				}
				x.descriptions["inventory/"+inv.Name] = out.Description
				x.owners["inventory/"+inv.Name] = owner{Created: true}
				x.texts["inventory/"+inv.Name] = inv.Description
				return nil
			}})
			continue
		}
		text, _ := splitOwner(cur.Description)
		patch := map[string]any{}
		var fields []string
		if text != inv.Description {
			fields = append(fields, "description")
			patch["description"] = nil // filled in when applied, with the ownership record
		}
		if cur.NamePolicy != inv.NamePolicy {
			fields = append(fields, "name_policy")
			patch["name_policy"] = inv.NamePolicy
		}
		if !jsonEqual(orEmpty(cur.PrometheusSD), orEmpty(inv.PrometheusSD)) {
			fields = append(fields, "prometheus_sd")
			patch["prometheus_sd"] = orEmpty(inv.PrometheusSD)
		}
		if inv.derived() {
			if !slices.Equal(cur.InputNames, inv.Inputs) {
				fields = append(fields, "inputs")
				patch["inputs"] = inv.Inputs
			}
			if inv.InventoryKind == "smart" && cur.HostFilter != inv.HostFilter {
				fields = append(fields, "host_filter")
				patch["host_filter"] = inv.HostFilter
			}
			if inv.InventoryKind == "constructed" && !jsonEqual(orEmpty(cur.SourceVars), orEmpty(inv.SourceVars)) {
				fields = append(fields, "source_vars")
				patch["source_vars"] = orEmpty(inv.SourceVars)
			}
			if inv.InventoryKind == "constructed" && cur.Limit != inv.Limit {
				fields = append(fields, "limit")
				patch["limit"] = inv.Limit
			}
		}
		if len(fields) == 0 {
			continue
		}
		b.add(Change{Op: '~', Kind: KindInventory, Key: inv.Name, Fields: fields, do: func(ctx context.Context, x *executor) error {
			k := "inventory/" + inv.Name
			if _, ok := patch["description"]; ok {
				x.texts[k] = inv.Description
				patch["description"] = joinOwner(inv.Description, x.owners[k])
			}
			var out apiInventory
			if err := x.api.Do(ctx, "PATCH", "/inventories/"+url.PathEscape(cur.ID), patch, &out); err != nil {
				return err
			}
			x.descriptions[k] = out.Description
			return nil
		}})
	}
	return nil
}

func (b *planner) credentials() error {
	for _, key := range sortedKeys(b.docs[KindCredential]) {
		d := b.docs[KindCredential][key]
		c := d.Credential
		if _, ok := b.st.CredentialTypes[c.Type]; !ok {
			return fmt.Errorf("%s: credential %s: unknown type %q (known: %s)", d.Pos, c.Name, c.Type, strings.Join(sortedKeys(b.st.CredentialTypes), ", "))
		}
		secret := b.st.secretFields(c.Type)
		for _, f := range sortedKeys(c.Fields) {
			v := c.Fields[f]
			if secret[f] && !v.IsRef() {
				return fmt.Errorf("%s: credential %s: field %s is secret: give a reference ({env: NAME}, {file: PATH} or {stdin: true}), never the value", v.Pos, c.Name, f)
			}
			if !secret[f] && v.IsRef() {
				return fmt.Errorf("%s: credential %s: field %s is not secret: give its value", v.Pos, c.Name, f)
			}
		}
		cur, ok := b.st.Credentials[c.Name]
		if !ok {
			fields := map[string]string{}
			for _, f := range sortedKeys(c.Fields) {
				s, err := b.opts.Resolver.Resolve(c.Fields[f])
				if err != nil {
					return fmt.Errorf("credential %s: field %s: %w", c.Name, f, err)
				}
				fields[f] = s.Reveal()
			}
			body := map[string]any{"name": c.Name, "type": c.Type, "description": joinOwner(c.Description, owner{Created: true}), "fields": fields}
			b.owners["credential/"+c.Name] = owner{Created: true}
			b.add(Change{Op: '+', Kind: KindCredential, Key: c.Name, do: func(ctx context.Context, x *executor) error {
				return x.api.Do(ctx, "POST", "/credentials", body, nil)
			}})
			continue
		}
		if cur.Type != c.Type {
			return fmt.Errorf("%s: credential %s is of type %s on the server, %s here: a credential's type cannot change (delete it, or give another name)", d.Pos, c.Name, cur.Type, c.Type)
		}
		text, own := splitOwner(cur.Description)
		patch := map[string]any{}
		fields := map[string]string{}
		var changed []string
		if text != c.Description {
			changed = append(changed, "description")
			patch["description"] = joinOwner(c.Description, own)
		}
		for _, f := range sortedKeys(c.Fields) {
			v := c.Fields[f]
			if secret[f] {
				if !b.opts.UpdateSecrets && slices.Contains(cur.SecretsSet, f) {
					continue
				}
				s, err := b.opts.Resolver.Resolve(v)
				if err != nil {
					return fmt.Errorf("credential %s: field %s: %w", c.Name, f, err)
				}
				fields[f] = s.Reveal()
				changed = append(changed, "fields."+f+" (secret)")
				continue
			}
			if cur.Fields[f] != v.Literal {
				fields[f] = v.Literal
				changed = append(changed, "fields."+f)
			}
		}
		for _, f := range sortedKeys(cur.Fields) {
			if _, declared := c.Fields[f]; !declared && cur.Fields[f] != "" {
				fields[f] = ""
				changed = append(changed, "fields."+f)
			}
		}
		if len(fields) > 0 {
			patch["fields"] = fields
		}
		if len(changed) == 0 {
			continue
		}
		b.add(Change{Op: '~', Kind: KindCredential, Key: c.Name, Fields: changed, do: func(ctx context.Context, x *executor) error {
			return x.api.Do(ctx, "PATCH", "/credentials/"+url.PathEscape(cur.ID), patch, nil)
		}})
	}
	return nil
}

func (b *planner) sources() error {
	for _, key := range sortedKeys(b.docs[KindSource]) {
		d := b.docs[KindSource][key]
		s := d.Source
		if s.Provider == "" {
			return fmt.Errorf("%s: source %s: give provider (aws, gcp, azure, openstack) or the plugin file's plugin key in config", d.Pos, key)
		}
		if !b.inventoryKnown(s.Inventory) {
			return fmt.Errorf("%s: source %s: inventory %s is neither on the server nor declared", d.Pos, key, s.Inventory)
		}
		if s.Credential != "" {
			if _, declared := b.docs[KindCredential][s.Credential]; !declared {
				if _, exists := b.st.Credentials[s.Credential]; !exists {
					return fmt.Errorf("%s: source %s: credential %s is neither on the server nor declared", d.Pos, key, s.Credential)
				}
			}
		}
		onMissing := s.OnMissing
		if onMissing == "" {
			onMissing = "remove"
		}
		cfg := orEmpty(s.Config)
		cur, ok := b.st.Sources[key]
		if !ok {
			body := map[string]any{"name": s.Name, "provider": s.Provider, "config": cfg, "on_missing": onMissing}
			for k, v := range map[string]string{"credential": s.Credential, "schedule": s.Schedule, "schedule_jitter": s.ScheduleJitter, "timeout": s.Timeout} {
				if v != "" {
					body[k] = v
				}
			}
			if s.UpdateCacheTimeout != 0 {
				body["update_cache_timeout"] = s.UpdateCacheTimeout
			}
			b.add(Change{Op: '+', Kind: KindSource, Key: key, do: func(ctx context.Context, x *executor) error {
				if err := x.api.Do(ctx, "POST", "/inventories/"+url.PathEscape(s.Inventory)+"/sources", body, nil); err != nil {
					return err
				}
				x.own(s.Inventory, func(o *owner) { o.add(&o.Sources, s.Name) })
				return nil
			}})
			continue
		}
		if cur.Provider != s.Provider {
			return fmt.Errorf("%s: source %s has provider %s on the server, %s here: a source's provider cannot change (delete it, or give another name)", d.Pos, key, cur.Provider, s.Provider)
		}
		patch := map[string]any{}
		var changed []string
		if mp, paths := mergePatch(orEmpty(cur.Config), cfg, "config"); len(paths) > 0 {
			patch["config"] = mp
			changed = append(changed, paths...)
		}
		str := func(field, have, want string) {
			if have != want {
				changed = append(changed, field)
				if want == "" {
					patch[field] = nil
				} else {
					patch[field] = want
				}
			}
		}
		str("on_missing", cur.OnMissing, onMissing)
		str("credential", b.st.credentialName(cur.Credential), s.Credential)
		str("schedule", cur.Schedule, s.Schedule)
		str("schedule_jitter", cur.ScheduleJitter, s.ScheduleJitter)
		str("timeout", cur.Timeout, s.Timeout)
		if cur.UpdateCacheTimeout != s.UpdateCacheTimeout {
			changed = append(changed, "update_cache_timeout")
			patch["update_cache_timeout"] = s.UpdateCacheTimeout
		}
		if len(changed) == 0 {
			continue
		}
		b.add(Change{Op: '~', Kind: KindSource, Key: key, Fields: changed, do: func(ctx context.Context, x *executor) error {
			return x.api.Do(ctx, "PATCH", "/sources/"+url.PathEscape(cur.ID), patch, nil)
		}})
	}
	return nil
}

func (b *planner) grants() error {
	for _, key := range sortedKeys(b.docs[KindGrant]) {
		d := b.docs[KindGrant][key]
		g := d.Grant
		if _, ok := b.st.tokenByNm[g.Token]; !ok {
			return fmt.Errorf("%s: grant %s: token %s does not exist (apply does not manage tokens: create it with roster token create)", d.Pos, key, g.Token)
		}
		if _, declared := b.docs[KindCredential][g.Credential]; !declared {
			if _, exists := b.st.Credentials[g.Credential]; !exists {
				return fmt.Errorf("%s: grant %s: credential %s is neither on the server nor declared", d.Pos, key, g.Credential)
			}
		}
		if !b.inventoryKnown(g.Inventory) {
			return fmt.Errorf("%s: grant %s: inventory %s is neither on the server nor declared", d.Pos, key, g.Inventory)
		}
		if _, ok := b.st.Grants[key]; ok {
			continue
		}
		body := map[string]string{"token": g.Token, "credential": g.Credential, "inventory": g.Inventory}
		b.add(Change{Op: '+', Kind: KindGrant, Key: key, do: func(ctx context.Context, x *executor) error {
			if err := x.api.Do(ctx, "POST", "/grants", body, nil); err != nil {
				return err
			}
			x.own(g.Inventory, func(o *owner) { o.add(&o.Grants, g.Token+":"+g.Credential) })
			return nil
		}})
	}
	return nil
}

func (b *planner) webhooks() error {
	for _, key := range sortedKeys(b.docs[KindWebhook]) {
		d := b.docs[KindWebhook][key]
		w := d.Webhook
		inv := w.inventory()
		if !b.inventoryKnown(inv) {
			return fmt.Errorf("%s: webhook %s: inventory %s is neither on the server nor declared", d.Pos, key, inv)
		}
		if w.Source != "" {
			if _, declared := b.docs[KindSource][w.Source]; !declared {
				if _, exists := b.st.Sources[w.Source]; !exists {
					return fmt.Errorf("%s: webhook %s: source %s is neither on the server nor declared", d.Pos, key, w.Source)
				}
			}
		}
		typ := w.webhookType()
		settingsKey, settings := w.settings()
		enabled := w.Enabled == nil || *w.Enabled
		events := slices.Clone(w.Events)
		sort.Strings(events)
		cur, exists := b.st.Webhooks[key]
		curSource := ""
		if exists && cur.SourceID != "" {
			if src := b.st.srcByID[cur.SourceID]; src != nil {
				curSource = b.st.sourceKey(src)
			}
		}
		resolveSecrets := func(names []string) (map[string]string, error) {
			out := map[string]string{}
			for _, name := range names {
				v, err := b.opts.Resolver.Resolve(*w.secrets()[name])
				if err != nil {
					return nil, fmt.Errorf("webhook %s: %s.%s: %w", key, settingsKey, name, err)
				}
				out[name] = v.Reveal()
			}
			return out, nil
		}
		create := func(op byte, note string) error {
			body := map[string]any{"name": w.Name, "type": typ, "allow_insecure": w.AllowInsecure, "enabled": enabled}
			if len(events) > 0 {
				body["events"] = events
			}
			if usesURL(typ) {
				u, err := b.opts.Resolver.Resolve(w.URL)
				if err != nil {
					return fmt.Errorf("webhook %s: url: %w", key, err)
				}
				body["url"] = u.Reveal()
			}
			if w.Username != "" {
				body["username"] = w.Username
			}
			if settings != nil {
				secrets, err := resolveSecrets(slices.Collect(maps.Keys(w.secrets())))
				if err != nil {
					return err
				}
				body[settingsKey] = settingsBody(settings, secrets)
			}
			if w.Source != "" {
				body["source"] = w.Source
			} else {
				body["inventory"] = w.Inventory
			}
			if w.SigningSecret != nil {
				s, err := b.opts.Resolver.Resolve(*w.SigningSecret)
				if err != nil {
					return fmt.Errorf("webhook %s: signing_secret: %w", key, err)
				}
				body["signing_secret"] = s.Reveal()
			}
			b.add(Change{Op: op, Kind: KindWebhook, Key: key, Note: note, do: func(ctx context.Context, x *executor) error {
				if exists {
					if err := x.api.Do(ctx, "DELETE", "/webhooks/"+url.PathEscape(cur.ID), nil, nil); err != nil {
						return err
					}
				}
				if err := x.api.Do(ctx, "POST", "/webhooks", body, nil); err != nil {
					return err
				}
				if !exists {
					x.own(inv, func(o *owner) { o.add(&o.Webhooks, w.Name) })
				}
				return nil
			}})
			return nil
		}
		if !exists {
			if err := create('+', ""); err != nil {
				return err
			}
			continue
		}
		curType := cur.Type
		if curType == "" { // a server from before types
			curType = map[string]string{"generic": "webhook"}[cur.Format]
			if curType == "" {
				curType = cur.Format
			}
		}
		if curSource != w.Source {
			// Not a field a webhook's update takes: replace it.
			if err := create('~', "source changed: replaced, its delivery log with it"); err != nil {
				return err
			}
			continue
		}
		if curType != typ && !(usesURL(curType) && usesURL(typ)) {
			if err := create('~', "type changed: replaced, its delivery log with it"); err != nil {
				return err
			}
			continue
		}
		patch := map[string]any{}
		var changed []string
		if curType != typ {
			changed, patch["type"] = append(changed, "type"), typ
		}
		curEvents := slices.Clone(cur.Events)
		sort.Strings(curEvents)
		if len(events) > 0 && !slices.Equal(curEvents, events) {
			changed, patch["events"] = append(changed, "events"), events
		}
		if cur.Username != w.Username {
			changed, patch["username"] = append(changed, "username"), w.Username
		}
		if settings != nil {
			send, remove := secretsChanged(w.secrets(), cur.SecretsSet, b.opts.UpdateSecrets)
			if !sameSettings(settings, cur.settings()) || len(send)+len(remove) > 0 {
				secrets, err := resolveSecrets(send)
				if err != nil {
					return err
				}
				for _, name := range remove {
					secrets[name] = ""
				}
				changed, patch[settingsKey] = append(changed, settingsKey+secretNote(send, remove)), settingsBody(settings, secrets)
			}
		}
		if cur.Enabled != enabled {
			changed, patch["enabled"] = append(changed, "enabled"), enabled
		}
		if cur.AllowInsecure != w.AllowInsecure {
			changed, patch["allow_insecure"] = append(changed, "allow_insecure"), w.AllowInsecure
		}
		sendURL := b.opts.UpdateSecrets && usesURL(typ)
		if usesURL(typ) && !w.URL.IsRef() {
			if pu, err := url.Parse(w.URL.Literal); err != nil || roster.RedactURL(pu) != cur.URL {
				sendURL = true
			}
		}
		if sendURL {
			u, err := b.opts.Resolver.Resolve(w.URL)
			if err != nil {
				return fmt.Errorf("webhook %s: url: %w", key, err)
			}
			changed, patch["url"] = append(changed, "url"), u.Reveal()
		}
		switch {
		case w.SigningSecret == nil && cur.HasSigningSecret:
			changed, patch["signing_secret"] = append(changed, "signing_secret (removed)"), ""
		case w.SigningSecret != nil && (!cur.HasSigningSecret || b.opts.UpdateSecrets):
			s, err := b.opts.Resolver.Resolve(*w.SigningSecret)
			if err != nil {
				return fmt.Errorf("webhook %s: signing_secret: %w", key, err)
			}
			changed, patch["signing_secret"] = append(changed, "signing_secret (secret)"), s.Reveal()
		}
		if len(changed) == 0 {
			continue
		}
		b.add(Change{Op: '~', Kind: KindWebhook, Key: key, Fields: changed, do: func(ctx context.Context, x *executor) error {
			return x.api.Do(ctx, "PATCH", "/webhooks/"+url.PathEscape(cur.ID), patch, nil)
		}})
	}
	return nil
}

// secretNote says which secrets a change sends or removes (names only).
func secretNote(send, remove []string) string {
	var parts []string
	for _, n := range send {
		parts = append(parts, n+" (secret)")
	}
	for _, n := range remove {
		parts = append(parts, n+" (removed)")
	}
	if len(parts) == 0 {
		return ""
	}
	return " " + strings.Join(parts, ", ")
}

// prune deletes what apply created and the documents no longer declare,
// webhooks first, inventories last. What apply did not create stays,
// and so does what would take such a thing with it.
func (b *planner) prune() {
	owned := func(inv string) owner { return b.owners["inventory/"+inv] }
	// What the documents refer to stays, declared or not.
	referenced := map[string]bool{}
	for _, d := range b.docs[KindSource] {
		referenced["inventory/"+d.Source.Inventory] = true
		referenced["credential/"+d.Source.Credential] = true
	}
	for _, d := range b.docs[KindGrant] {
		referenced["inventory/"+d.Grant.Inventory] = true
		referenced["credential/"+d.Grant.Credential] = true
	}
	for _, d := range b.docs[KindWebhook] {
		referenced["inventory/"+d.Webhook.inventory()] = true
	}
	for _, d := range b.docs[KindInventory] {
		for _, in := range d.Inventory.Inputs {
			referenced["inventory/"+in] = true
		}
	}
	// So do the inputs of smart and constructed inventories that stay.
	for name, inv := range b.st.Inventories {
		if _, declared := b.docs[KindInventory][name]; declared || !owned(name).Created {
			for _, in := range inv.InputNames {
				referenced["inventory/"+in] = true
			}
		}
	}
	var goneInv []string
	for _, name := range sortedKeys(b.st.Inventories) {
		if _, declared := b.docs[KindInventory][name]; declared || !owned(name).Created || referenced["inventory/"+name] {
			continue
		}
		// Deleting an inventory deletes its sources, webhooks and grants:
		// keep it while one of them is not apply's.
		if what := b.foreignChild(name); what != "" {
			b.Kept = append(b.Kept, fmt.Sprintf("inventory %s: it holds %s, which apply did not create", name, what))
			continue
		}
		goneInv = append(goneInv, name)
	}
	invGoing := func(name string) bool { return slices.Contains(goneInv, name) }
	// Webhooks and grants, then sources, of inventories that stay.
	for _, key := range sortedKeys(b.st.Webhooks) {
		inv, name, _ := strings.Cut(key, "/")
		if _, declared := b.docs[KindWebhook][key]; declared || invGoing(inv) || !slices.Contains(owned(inv).Webhooks, name) {
			continue
		}
		id := b.st.Webhooks[key].ID
		b.add(Change{Op: '-', Kind: KindWebhook, Key: key, do: func(ctx context.Context, x *executor) error {
			if err := x.api.Do(ctx, "DELETE", "/webhooks/"+url.PathEscape(id), nil, nil); err != nil {
				return err
			}
			x.own(inv, func(o *owner) { o.Webhooks = remove(o.Webhooks, name) })
			return nil
		}})
	}
	grantOwned := func(key string) bool {
		p := strings.SplitN(key, "/", 3)
		return len(p) == 3 && slices.Contains(owned(p[2]).Grants, p[0]+":"+p[1])
	}
	var goneCred []string
	for _, name := range sortedKeys(b.st.Credentials) {
		if _, declared := b.docs[KindCredential][name]; !declared && b.owners["credential/"+name].Created && !referenced["credential/"+name] {
			goneCred = append(goneCred, name)
		}
	}
	for _, key := range sortedKeys(b.st.Grants) {
		p := strings.SplitN(key, "/", 3)
		if _, declared := b.docs[KindGrant][key]; declared || invGoing(p[2]) || !grantOwned(key) {
			continue
		}
		id := b.st.Grants[key].ID
		b.add(Change{Op: '-', Kind: KindGrant, Key: key, do: func(ctx context.Context, x *executor) error {
			if err := x.api.Do(ctx, "DELETE", "/grants/"+url.PathEscape(id), nil, nil); err != nil {
				return err
			}
			x.own(p[2], func(o *owner) { o.Grants = remove(o.Grants, p[0]+":"+p[1]) })
			return nil
		}})
	}
	for _, key := range sortedKeys(b.st.Sources) {
		inv, name, _ := strings.Cut(key, "/")
		if _, declared := b.docs[KindSource][key]; declared || invGoing(inv) || !slices.Contains(owned(inv).Sources, name) {
			continue
		}
		src := b.st.Sources[key]
		// A webhook of the source goes with it: keep the source when one
		// is not apply's or still declared.
		if hook := b.sourceHookKept(src); hook != "" {
			b.Kept = append(b.Kept, fmt.Sprintf("source %s: webhook %s, which apply did not create or the files still declare, reports it", key, hook))
			continue
		}
		b.add(Change{Op: '-', Kind: KindSource, Key: key, do: func(ctx context.Context, x *executor) error {
			if err := x.api.Do(ctx, "DELETE", "/sources/"+url.PathEscape(src.ID), nil, nil); err != nil {
				return err
			}
			x.own(inv, func(o *owner) { o.Sources = remove(o.Sources, name) })
			return nil
		}})
	}
	for _, name := range goneCred {
		// Deleting a credential deletes its grants: keep it while one is
		// not apply's, or declared.
		var keep string
		for _, key := range sortedKeys(b.st.Grants) {
			p := strings.SplitN(key, "/", 3)
			if p[1] != name {
				continue
			}
			if _, declared := b.docs[KindGrant][key]; declared || !grantOwned(key) {
				keep = key
				break
			}
		}
		if keep != "" {
			b.Kept = append(b.Kept, fmt.Sprintf("credential %s: grant %s, which apply did not create or the files still declare, uses it", name, keep))
			continue
		}
		id := b.st.Credentials[name].ID
		b.add(Change{Op: '-', Kind: KindCredential, Key: name, do: func(ctx context.Context, x *executor) error {
			return x.api.Do(ctx, "DELETE", "/credentials/"+url.PathEscape(id), nil, nil)
		}})
	}
	// Smart and constructed inventories go before the inputs they read.
	slices.SortStableFunc(goneInv, func(x, y string) int {
		return cmpBool(!isDerived(b.st.Inventories[x].Kind), !isDerived(b.st.Inventories[y].Kind))
	})
	for _, name := range goneInv {
		id := b.st.Inventories[name].ID
		b.add(Change{Op: '-', Kind: KindInventory, Key: name, do: func(ctx context.Context, x *executor) error {
			if err := x.api.Do(ctx, "DELETE", "/inventories/"+url.PathEscape(id), nil, nil); err != nil {
				return err
			}
			x.deleted["inventory/"+name] = true
			return nil
		}})
	}
}

// sourceHookKept names a webhook of src that prune would not delete.
func (b *planner) sourceHookKept(src *apiSource) string {
	inv := b.st.invByID[src.InventoryID]
	for _, key := range sortedKeys(b.st.Webhooks) {
		w := b.st.Webhooks[key]
		if w.SourceID != src.ID {
			continue
		}
		_, declared := b.docs[KindWebhook][key]
		if declared || inv == nil || !slices.Contains(b.owners["inventory/"+inv.Name].Webhooks, w.Name) {
			return key
		}
	}
	return ""
}

// foreignChild names a source, webhook or grant of inventory name that
// apply did not create.
func (b *planner) foreignChild(name string) string {
	o := b.owners["inventory/"+name]
	for _, key := range sortedKeys(b.st.Sources) {
		if inv, n, _ := strings.Cut(key, "/"); inv == name && !slices.Contains(o.Sources, n) {
			return "source " + key
		}
	}
	for _, key := range sortedKeys(b.st.Webhooks) {
		if inv, n, _ := strings.Cut(key, "/"); inv == name && !slices.Contains(o.Webhooks, n) {
			return "webhook " + key
		}
	}
	for _, key := range sortedKeys(b.st.Grants) {
		if p := strings.SplitN(key, "/", 3); p[2] == name && !slices.Contains(o.Grants, p[0]+":"+p[1]) {
			return "grant " + key
		}
	}
	return ""
}

// executor carries out a plan and keeps the ownership records.
type executor struct {
	api          API
	owners       map[string]owner
	texts        map[string]string // the user's description, where the plan set it
	descriptions map[string]string // as stored, where a change stored it
	touched      map[string]bool   // inventories whose record changed
	deleted      map[string]bool
	state        *State
}

// own changes the record of inventory inv.
func (x *executor) own(inv string, f func(*owner)) {
	k := "inventory/" + inv
	o := x.owners[k]
	f(&o)
	x.owners[k] = o
	x.touched[k] = true
}

// Apply carries out the plan, writing each change to out as it is done.
// On an error it stops, says what was done and what was not, and returns
// the error; the ownership records of what was done are kept.
func (p *Plan) Apply(ctx context.Context, api API, out io.Writer) error {
	x := &executor{api: api, owners: map[string]owner{}, texts: map[string]string{}, descriptions: map[string]string{},
		touched: map[string]bool{}, deleted: map[string]bool{}, state: p.state}
	for k, o := range p.owners {
		if strings.HasPrefix(k, "inventory/") {
			x.owners[k] = o
		}
	}
	done := 0
	var runErr error
	for _, c := range p.Changes {
		if err := c.do(ctx, x); err != nil {
			runErr = fmt.Errorf("%s: %w", strings.TrimSpace(c.String()[1:]), err)
			break
		}
		fmt.Fprintln(out, c.String())
		done++
	}
	recErr := x.record(ctx)
	if runErr != nil {
		return fmt.Errorf("%w\n%d of %d changes were applied (listed above), %d were not", runErr, done, len(p.Changes), len(p.Changes)-done)
	}
	if recErr != nil {
		return fmt.Errorf("the changes were applied, but the record of what apply created was not kept: %w", recErr)
	}
	return nil
}

// record stores the ownership records that changed, in the inventories'
// descriptions.
func (x *executor) record(ctx context.Context) error {
	var errs []error
	for _, k := range sortedKeys(x.touched) {
		if x.deleted[k] {
			continue
		}
		name := strings.TrimPrefix(k, "inventory/")
		stored, ok := x.descriptions[k]
		id := ""
		if cur := x.state.Inventories[name]; cur != nil {
			id = cur.ID
			if !ok {
				stored = cur.Description
			}
		} else {
			id = name // created by this run: its name finds it
		}
		text, ok := x.texts[k]
		if !ok {
			text, _ = splitOwner(stored)
		}
		want := joinOwner(text, x.owners[k])
		if want == stored {
			continue
		}
		if len(want) > 1024 {
			errs = append(errs, fmt.Errorf("inventory %s: the description and apply's record (%d bytes) exceed the 1024 the server keeps", name, len(want)))
			continue
		}
		if err := x.api.Do(ctx, "PATCH", "/inventories/"+url.PathEscape(id), map[string]any{"description": want}, nil); err != nil {
			errs = append(errs, fmt.Errorf("inventory %s: %w", name, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%v", errs)
	}
	return nil
}

// mergePatch returns the RFC 7396 merge patch that turns have into want
// (nested objects merged, anything else replaced whole) and the paths it
// changes, under prefix.
func mergePatch(have, want map[string]any, prefix string) (map[string]any, []string) {
	patch := map[string]any{}
	var paths []string
	for _, k := range sortedKeys(have) {
		if _, ok := want[k]; !ok {
			patch[k] = nil
			paths = append(paths, prefix+"."+k)
		}
	}
	for _, k := range sortedKeys(want) {
		w := want[k]
		h, ok := have[k]
		if ok && jsonEqual(h, w) {
			continue
		}
		hm, hOK := h.(map[string]any)
		wm, wOK := w.(map[string]any)
		if ok && hOK && wOK {
			sub, subPaths := mergePatch(hm, wm, prefix+"."+k)
			patch[k] = sub
			paths = append(paths, subPaths...)
			continue
		}
		patch[k] = w
		paths = append(paths, prefix+"."+k)
	}
	sort.Strings(paths)
	return patch, paths
}

// jsonEqual compares two values as their JSON.
func jsonEqual(a, b any) bool {
	return reflect.DeepEqual(normalize(a), normalize(b))
}

func normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	json.Unmarshal(b, &out)
	return out
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func isDerived(kind string) bool { return kind == "smart" || kind == "constructed" }
