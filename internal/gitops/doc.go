// Package gitops is Roster's configuration as code: YAML documents that
// declare inventories, sources, credentials (by reference to their
// secrets), grants and webhooks; the plan that brings a server to what
// they declare, through the REST API; the export of a server in the same
// format; and the import of Ansible inventory plugin files and of AWX's
// `awx export` documents.
//
// A file holds one or more YAML documents, each with a kind:
//
//	kind: inventory
//	name: prod
//	description: Production
//	---
//	kind: source
//	inventory: prod
//	name: aws-prod
//	schedule: 15m
//	config:            # the Ansible plugin file, as it is
//	  plugin: amazon.aws.aws_ec2
//	  regions: [us-east-1]
//
// Secret values never sit in the files: a credential's secret field, a
// webhook's signing secret and the secrets of its irc, email and
// pagerduty maps (and, optionally, its URL) is a reference, {env: NAME},
// {file: PATH} or {stdin: true}.
package gitops

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/rosterhq/roster/sources"
)

// Limits on what Load reads, so that a wrong path (a directory of logs, a
// huge file) fails early and clearly.
const (
	MaxFileBytes = 4 << 20 // per file
	MaxDocuments = 5000    // in all the files
	MaxFiles     = 1000    // in a directory
)

// The kinds of document.
const (
	KindInventory  = "inventory"
	KindCredential = "credential"
	KindSource     = "source"
	KindGrant      = "grant"
	KindWebhook    = "webhook"
)

// kindOrder is the order in which things are created: what a document
// refers to exists before it. Prune deletes in the reverse order.
var kindOrder = []string{KindInventory, KindCredential, KindSource, KindGrant, KindWebhook, KindEventSink}

// Inventory is an inventory document.
type Inventory struct {
	Name         string         `yaml:"name" json:"name"`
	Description  string         `yaml:"description,omitempty" json:"description,omitempty"`
	NamePolicy   string         `yaml:"name_policy,omitempty" json:"name_policy,omitempty"`
	PrometheusSD map[string]any `yaml:"prometheus_sd,omitempty" json:"prometheus_sd,omitempty"`
	// InventoryKind is plain (absent), smart or constructed; "kind" is
	// the document's kind.
	InventoryKind string `yaml:"inventory_kind,omitempty" json:"inventory_kind,omitempty"`
	// Inputs are the input inventories by name, in order.
	Inputs     []string       `yaml:"inputs,omitempty" json:"inputs,omitempty"`
	HostFilter string         `yaml:"host_filter,omitempty" json:"host_filter,omitempty"`
	SourceVars map[string]any `yaml:"source_vars,omitempty" json:"source_vars,omitempty"`
	Limit      string         `yaml:"limit,omitempty" json:"limit,omitempty"`
}

// derived reports whether the inventory is smart or constructed.
func (inv *Inventory) derived() bool { return inv.InventoryKind != "" && inv.InventoryKind != "plain" }

// Source is a source document; Config is the Ansible plugin file.
type Source struct {
	Inventory          string         `yaml:"inventory"`
	Name               string         `yaml:"name"`
	Provider           string         `yaml:"provider,omitempty"`
	Credential         string         `yaml:"credential,omitempty"`
	Schedule           string         `yaml:"schedule,omitempty"`
	ScheduleJitter     string         `yaml:"schedule_jitter,omitempty"`
	Timeout            string         `yaml:"timeout,omitempty"`
	OnMissing          string         `yaml:"on_missing,omitempty"`
	UpdateCacheTimeout int            `yaml:"update_cache_timeout,omitempty"`
	Config             map[string]any `yaml:"config,omitempty"`
}

// Credential is a credential document. Its non-secret fields are plain
// strings; its secret fields are references.
type Credential struct {
	Name        string           `yaml:"name"`
	Type        string           `yaml:"type"`
	Description string           `yaml:"description,omitempty"`
	Fields      map[string]Value `yaml:"fields,omitempty"`
}

// Grant lets a token (which apply does not manage) use a credential for
// an inventory.
type Grant struct {
	Token      string `yaml:"token"`
	Credential string `yaml:"credential"`
	Inventory  string `yaml:"inventory"`
}

// Webhook is a webhook (notification target) document: of an inventory,
// or of one source (INVENTORY/NAME). Type is webhook (the default),
// slack, mattermost, rocketchat, teams (each with url), pagerduty, irc or
// email (each with its map); format is type's older name.
type Webhook struct {
	Name          string            `yaml:"name"`
	Inventory     string            `yaml:"inventory,omitempty"`
	Source        string            `yaml:"source,omitempty"`
	Type          string            `yaml:"type,omitempty"`
	Format        string            `yaml:"format,omitempty"`
	Events        []string          `yaml:"events,omitempty"`
	URL           Value             `yaml:"url,omitempty"`
	SigningSecret *Value            `yaml:"signing_secret,omitempty"`
	Username      string            `yaml:"username,omitempty"`
	IRC           *WebhookIRC       `yaml:"irc,omitempty"`
	Email         *WebhookEmail     `yaml:"email,omitempty"`
	PagerDuty     *WebhookPagerDuty `yaml:"pagerduty,omitempty"`
	AllowInsecure bool              `yaml:"allow_insecure,omitempty"`
	Enabled       *bool             `yaml:"enabled,omitempty"`
}

// WebhookIRC is an irc target's map; its passwords and key are references.
type WebhookIRC struct {
	Server           string `yaml:"server" json:"server"`
	TLS              *bool  `yaml:"tls,omitempty" json:"tls,omitempty"`
	TLSServerName    string `yaml:"tls_server_name,omitempty" json:"tls_server_name,omitempty"`
	Nick             string `yaml:"nick" json:"nick"`
	Channel          string `yaml:"channel" json:"channel"`
	Notice           bool   `yaml:"notice,omitempty" json:"notice,omitempty"`
	ServerPassword   *Value `yaml:"server_password,omitempty" json:"-"`
	NickServPassword *Value `yaml:"nickserv_password,omitempty" json:"-"`
	ChannelKey       *Value `yaml:"channel_key,omitempty" json:"-"`
}

// WebhookEmail is an email target's map; its password is a reference.
type WebhookEmail struct {
	Host          string   `yaml:"host" json:"host"`
	Port          int      `yaml:"port,omitempty" json:"port,omitempty"`
	Security      string   `yaml:"security,omitempty" json:"security,omitempty"`
	TLSServerName string   `yaml:"tls_server_name,omitempty" json:"tls_server_name,omitempty"`
	From          string   `yaml:"from" json:"from"`
	To            []string `yaml:"to" json:"to"`
	Username      string   `yaml:"username,omitempty" json:"username,omitempty"`
	Password      *Value   `yaml:"password,omitempty" json:"-"`
	SubjectPrefix string   `yaml:"subject_prefix,omitempty" json:"subject_prefix,omitempty"`
}

// WebhookPagerDuty is a pagerduty target's map; its routing key is a
// reference.
type WebhookPagerDuty struct {
	RoutingKey      *Value `yaml:"routing_key" json:"-"`
	URL             string `yaml:"url,omitempty" json:"url,omitempty"`
	SeverityFailed  string `yaml:"severity_failed,omitempty" json:"severity_failed,omitempty"`
	SeverityPartial string `yaml:"severity_partial,omitempty" json:"severity_partial,omitempty"`
}

// webhookTypeKeys are the keys of the per-type maps.
var webhookTypeKeys = map[string][]string{
	"irc":       {"server", "tls", "tls_server_name", "nick", "channel", "notice", "server_password", "nickserv_password", "channel_key"},
	"email":     {"host", "port", "security", "tls_server_name", "from", "to", "username", "password", "subject_prefix"},
	"pagerduty": {"routing_key", "url", "severity_failed", "severity_partial"},
}

// webhookType is the document's type: type, else what format names, else
// webhook.
func (w *Webhook) webhookType() string {
	switch {
	case w.Type != "":
		return w.Type
	case w.Format == "" || w.Format == "generic":
		return "webhook"
	}
	return w.Format
}

// usesURL reports whether the type posts to a URL.
func usesURL(t string) bool {
	return slices.Contains([]string{"webhook", "slack", "mattermost", "rocketchat", "teams"}, t)
}

// secrets lists the type's secret references by API field name.
func (w *Webhook) secrets() map[string]*Value {
	out := map[string]*Value{}
	add := func(name string, v *Value) {
		if v != nil {
			out[name] = v
		}
	}
	if w.IRC != nil {
		add("server_password", w.IRC.ServerPassword)
		add("nickserv_password", w.IRC.NickServPassword)
		add("channel_key", w.IRC.ChannelKey)
	}
	if w.Email != nil {
		add("password", w.Email.Password)
	}
	if w.PagerDuty != nil {
		add("routing_key", w.PagerDuty.RoutingKey)
	}
	return out
}

// Document is one YAML document: its kind, where it was read, and exactly
// one of the kinds' values.
type Document struct {
	Kind       string
	Pos        Pos
	Inventory  *Inventory
	Source     *Source
	Credential *Credential
	Grant      *Grant
	Webhook    *Webhook
	EventSink  *EventSink
}

// Key names the document's resource: the name, INVENTORY/NAME for
// sources and webhooks, TOKEN/CREDENTIAL/INVENTORY for grants.
func (d Document) Key() string {
	switch d.Kind {
	case KindInventory:
		return d.Inventory.Name
	case KindCredential:
		return d.Credential.Name
	case KindSource:
		return d.Source.Inventory + "/" + d.Source.Name
	case KindGrant:
		return grantKey(d.Grant.Token, d.Grant.Credential, d.Grant.Inventory)
	case KindWebhook:
		return d.Webhook.inventory() + "/" + d.Webhook.Name
	case KindEventSink:
		return d.EventSink.Name
	}
	return ""
}

func grantKey(token, credential, inventory string) string {
	return token + "/" + credential + "/" + inventory
}

// inventory is the inventory the webhook belongs to.
func (w *Webhook) inventory() string {
	if w.Source != "" {
		inv, _, _ := strings.Cut(w.Source, "/")
		return inv
	}
	return w.Inventory
}

// Pos is where a document or a value was read: file:line.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string {
	if p.File == "" {
		return fmt.Sprintf("line %d", p.Line)
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Value is a string given in the file or a reference to where a secret
// is: {env: NAME}, {file: PATH} (relative to the file that names it) or
// {stdin: true}.
type Value struct {
	Literal string
	Env     string
	File    string
	Stdin   bool
	Pos     Pos
}

// IsRef reports whether the value is a reference, not a literal.
func (v Value) IsRef() bool { return v.Env != "" || v.File != "" || v.Stdin }

// String describes the value without revealing anything secret.
func (v Value) String() string {
	switch {
	case v.Env != "":
		return "env " + v.Env
	case v.File != "":
		return "file " + v.File
	case v.Stdin:
		return "stdin"
	}
	return fmt.Sprintf("%q", v.Literal)
}

// UnmarshalYAML reads a scalar string or a reference mapping.
func (v *Value) UnmarshalYAML(n *yaml.Node) error {
	v.Pos = Pos{Line: n.Line}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return fmt.Errorf("line %d: a value is missing", n.Line)
		}
		v.Literal = n.Value
		return nil
	case yaml.MappingNode:
		var ref struct {
			Env   string `yaml:"env"`
			File  string `yaml:"file"`
			Stdin bool   `yaml:"stdin"`
		}
		if err := checkKeys(n, "env", "file", "stdin"); err != nil {
			return err
		}
		if err := n.Decode(&ref); err != nil {
			return err
		}
		count := 0
		for _, set := range []bool{ref.Env != "", ref.File != "", ref.Stdin} {
			if set {
				count++
			}
		}
		if count != 1 {
			return fmt.Errorf("line %d: a reference is exactly one of {env: NAME}, {file: PATH}, {stdin: true}", n.Line)
		}
		v.Env, v.File, v.Stdin = ref.Env, ref.File, ref.Stdin
		return nil
	}
	return fmt.Errorf("line %d: want a string or a reference ({env: NAME}, {file: PATH}, {stdin: true})", n.Line)
}

// MarshalYAML writes a literal as a string, a reference as a mapping.
func (v Value) MarshalYAML() (any, error) {
	switch {
	case v.Env != "":
		return map[string]string{"env": v.Env}, nil
	case v.File != "":
		return map[string]string{"file": v.File}, nil
	case v.Stdin:
		return map[string]bool{"stdin": true}, nil
	}
	return v.Literal, nil
}

// allowedKeys are each kind's keys, "kind" included.
var allowedKeys = map[string][]string{
	KindInventory:  {"kind", "name", "description", "name_policy", "prometheus_sd", "inventory_kind", "inputs", "host_filter", "source_vars", "limit"},
	KindSource:     {"kind", "inventory", "name", "provider", "credential", "schedule", "schedule_jitter", "timeout", "on_missing", "update_cache_timeout", "config"},
	KindCredential: {"kind", "name", "type", "description", "fields"},
	KindGrant:      {"kind", "token", "credential", "inventory"},
	KindWebhook:    {"kind", "name", "inventory", "source", "type", "format", "events", "url", "signing_secret", "username", "irc", "email", "pagerduty", "allow_insecure", "enabled"},
	KindEventSink:  eventSinkKeys,
}

// checkKeys refuses the keys of mapping n that are not allowed: all of
// them at once, each with the closest allowed key when it looks like a
// typo.
func checkKeys(n *yaml.Node, allowed ...string) error {
	var errs []error
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if slices.Contains(allowed, k.Value) {
			continue
		}
		if s := sources.Suggest(k.Value, allowed); s != "" {
			errs = append(errs, fmt.Errorf("line %d: unknown field %q; did you mean %q?", k.Line, k.Value, s))
		} else {
			errs = append(errs, fmt.Errorf("line %d: unknown field %q (known: %s)", k.Line, k.Value, strings.Join(allowed, ", ")))
		}
	}
	return errors.Join(errs...)
}

// Load reads the documents of the files named: a file, a directory (its
// *.yaml and *.yml files, not its subdirectories, in name order) or "-"
// for stdin.
func Load(paths []string, stdin io.Reader) ([]Document, error) {
	var docs []Document
	for _, p := range paths {
		if p == "-" {
			b, err := readBounded(stdin, "stdin")
			if err != nil {
				return nil, err
			}
			d, err := Parse("stdin", b)
			if err != nil {
				return nil, err
			}
			docs = append(docs, d...)
			continue
		}
		files, err := filesOf(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			fh, err := os.Open(f)
			if err != nil {
				return nil, err
			}
			b, err := readBounded(fh, f)
			fh.Close()
			if err != nil {
				return nil, err
			}
			d, err := Parse(f, b)
			if err != nil {
				return nil, err
			}
			docs = append(docs, d...)
		}
		if len(docs) > MaxDocuments {
			return nil, fmt.Errorf("more than %d documents: split the configuration", MaxDocuments)
		}
	}
	return docs, nil
}

func filesOf(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if ext := filepath.Ext(e.Name()); ext == ".yaml" || ext == ".yml" {
			files = append(files, filepath.Join(p, e.Name()))
		}
	}
	if len(files) > MaxFiles {
		return nil, fmt.Errorf("%s: more than %d YAML files", p, MaxFiles)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no *.yaml or *.yml file", p)
	}
	sort.Strings(files)
	return files, nil
}

func readBounded(r io.Reader, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > MaxFileBytes {
		return nil, fmt.Errorf("%s: larger than %d MiB", name, MaxFileBytes>>20)
	}
	return b, nil
}

// Parse reads the YAML documents of one file. Errors name file:line.
func Parse(file string, data []byte) ([]Document, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []Document
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", file, err)
		}
		if len(docs) >= MaxDocuments {
			return nil, fmt.Errorf("%s: more than %d documents", file, MaxDocuments)
		}
		if len(n.Content) == 0 || (n.Content[0].Kind == yaml.ScalarNode && n.Content[0].Tag == "!!null") {
			continue // an empty document (a trailing ---)
		}
		d, err := parseDocument(file, n.Content[0])
		if err != nil {
			return nil, err
		}
		// References to files are relative to the file naming them.
		d.rebaseFiles(filepath.Dir(file))
		docs = append(docs, d)
	}
	return docs, nil
}

func parseDocument(file string, n *yaml.Node) (Document, error) {
	d := Document{Pos: Pos{File: file, Line: n.Line}}
	fail := func(err error) (Document, error) {
		msg := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n  ")
		var out []string
		for _, m := range strings.Split(msg, "\n") {
			if m = strings.TrimSpace(m); strings.HasPrefix(m, "line ") {
				out = append(out, file+":"+strings.TrimPrefix(m, "line "))
			} else {
				out = append(out, d.Pos.String()+": "+m)
			}
		}
		return Document{}, errors.New(strings.Join(out, "\n"))
	}
	if n.Kind != yaml.MappingNode {
		return fail(fmt.Errorf("line %d: a document is a mapping with a kind (%s)", n.Line, strings.Join(kindOrder, ", ")))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "kind" {
			d.Kind = n.Content[i+1].Value
		}
	}
	keys, ok := allowedKeys[d.Kind]
	if !ok {
		if d.Kind == "" {
			return fail(fmt.Errorf("line %d: the document has no kind (%s)", n.Line, strings.Join(kindOrder, ", ")))
		}
		return fail(fmt.Errorf("line %d: unknown kind %q (%s)", n.Line, d.Kind, strings.Join(kindOrder, ", ")))
	}
	if err := checkKeys(n, keys...); err != nil {
		return fail(err)
	}
	if d.Kind == KindWebhook {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if sub, ok := webhookTypeKeys[n.Content[i].Value]; ok && n.Content[i+1].Kind == yaml.MappingNode {
				if err := checkKeys(n.Content[i+1], sub...); err != nil {
					return fail(err)
				}
			}
		}
	}
	var err error
	switch d.Kind {
	case KindInventory:
		d.Inventory = new(Inventory)
		err = n.Decode(d.Inventory)
	case KindSource:
		d.Source = new(Source)
		err = n.Decode(d.Source)
	case KindCredential:
		d.Credential = new(Credential)
		err = n.Decode(d.Credential)
	case KindGrant:
		d.Grant = new(Grant)
		err = n.Decode(d.Grant)
	case KindWebhook:
		d.Webhook = new(Webhook)
		err = n.Decode(d.Webhook)
	case KindEventSink:
		d.EventSink = new(EventSink)
		err = n.Decode(d.EventSink)
	}
	if err != nil {
		return fail(err)
	}
	if err := d.check(); err != nil {
		return fail(err)
	}
	if d.Source != nil {
		cfg, err := jsonValue(d.Source.Config)
		if err != nil {
			return fail(fmt.Errorf("line %d: config: %v", n.Line, err))
		}
		d.Source.Config, _ = cfg.(map[string]any)
	}
	if d.Inventory != nil && d.Inventory.PrometheusSD != nil {
		v, err := jsonValue(d.Inventory.PrometheusSD)
		if err != nil {
			return fail(fmt.Errorf("line %d: prometheus_sd: %v", n.Line, err))
		}
		d.Inventory.PrometheusSD, _ = v.(map[string]any)
	}
	if d.Inventory != nil && d.Inventory.SourceVars != nil {
		v, err := jsonValue(d.Inventory.SourceVars)
		if err != nil {
			return fail(fmt.Errorf("line %d: source_vars: %v", n.Line, err))
		}
		d.Inventory.SourceVars, _ = v.(map[string]any)
	}
	return d, nil
}

// check refuses what is missing or badly formed, naming the field.
func (d Document) check() error {
	line := d.Pos.Line
	need := func(field, v string) error {
		if v == "" {
			return fmt.Errorf("line %d: %s %s: field %s is required", line, d.Kind, d.Key(), field)
		}
		return nil
	}
	switch d.Kind {
	case KindInventory:
		return need("name", d.Inventory.Name)
	case KindSource:
		s := d.Source
		return errors.Join(need("inventory", s.Inventory), need("name", s.Name))
	case KindCredential:
		c := d.Credential
		return errors.Join(need("name", c.Name), need("type", c.Type))
	case KindGrant:
		g := d.Grant
		return errors.Join(need("token", g.Token), need("credential", g.Credential), need("inventory", g.Inventory))
	case KindWebhook:
		w := d.Webhook
		if err := need("name", w.Name); err != nil {
			return err
		}
		if (w.Inventory == "") == (w.Source == "") {
			return fmt.Errorf("line %d: webhook %s: give exactly one of inventory and source (INVENTORY/NAME)", line, w.Name)
		}
		if w.Source != "" && !strings.Contains(w.Source, "/") {
			return fmt.Errorf("line %d: webhook %s: source is INVENTORY/NAME", line, w.Name)
		}
		t := w.webhookType()
		switch {
		case usesURL(t) && w.URL == (Value{}):
			return fmt.Errorf("line %d: webhook %s: field url is required", line, w.Name)
		case !usesURL(t) && w.URL != (Value{}):
			return fmt.Errorf("line %d: webhook %s: a %s target has no url", line, w.Name, t)
		case t == "pagerduty" && (w.PagerDuty == nil || w.PagerDuty.RoutingKey == nil):
			return fmt.Errorf("line %d: webhook %s: field pagerduty.routing_key is required", line, w.Name)
		}
		for field, present := range map[string]bool{"irc": w.IRC != nil, "email": w.Email != nil, "pagerduty": w.PagerDuty != nil} {
			if present && field != t {
				return fmt.Errorf("line %d: webhook %s: %s is only for a target of type %s", line, w.Name, field, field)
			}
		}
		secrets := w.secrets()
		if w.SigningSecret != nil {
			secrets["signing_secret"] = w.SigningSecret
		}
		for _, name := range slices.Sorted(maps.Keys(secrets)) {
			if v := secrets[name]; !v.IsRef() {
				return fmt.Errorf("line %d: webhook %s: %s is a secret: give a reference ({env: NAME}, {file: PATH} or {stdin: true}), never the value", v.Pos.Line, w.Name, name)
			}
		}
	case KindEventSink:
		return d.EventSink.check(line)
	}
	return nil
}

func (d *Document) rebaseFiles(dir string) {
	fix := func(v *Value) {
		if v == nil {
			return
		}
		v.Pos.File = d.Pos.File
		if v.File != "" && !filepath.IsAbs(v.File) {
			v.File = filepath.Join(dir, v.File)
		}
	}
	if d.Credential != nil {
		for k, v := range d.Credential.Fields {
			fix(&v)
			d.Credential.Fields[k] = v
		}
	}
	if d.Webhook != nil {
		fix(&d.Webhook.URL)
		fix(d.Webhook.SigningSecret)
		for _, v := range d.Webhook.secrets() {
			fix(v)
		}
	}
	if d.EventSink != nil {
		d.EventSink.rebase(fix)
	}
}

// jsonValue turns what YAML decoded into what JSON would: maps with
// string keys, lists of any, float64 numbers; nulls inside maps are
// dropped (a merge patch could not store them).
func jsonValue(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if e == nil {
				continue
			}
			j, err := jsonValue(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = j
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("key %v is not a string", k)
			}
			if e == nil {
				continue
			}
			j, err := jsonValue(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", ks, err)
			}
			out[ks] = j
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			j, err := jsonValue(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = j
		}
		return out, nil
	}
	if s, ok := JSONScalar(v); ok {
		return s, nil
	}
	return nil, fmt.Errorf("a %T is not a JSON value", v)
}

// JSONScalar is what JSON holds for a scalar YAML decoded: nil, a string,
// a bool or a float64 (YAML's integers become float64, as a JSON decoder
// would make them); ok is false for any other type.
func JSONScalar(v any) (s any, ok bool) {
	switch x := v.(type) {
	case nil, string, bool, float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return nil, false
}
