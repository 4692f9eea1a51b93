package gitops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/rosterhq/roster/internal/schedule"
)

// MaxAWXBytes bounds an AWX export read by import (JSON). An export of a
// whole AWX holds its hosts and groups, which import only counts.
const MaxAWXBytes = 32 << 20

// Input is one file given to import: an Ansible inventory plugin file or
// an `awx export` document.
type Input struct {
	Path string // as the user named it ("-" for stdin)
	Data []byte
}

// ReadInput reads a file (or stdin for "-") for import, bounded: an AWX
// export (JSON) to MaxAWXBytes, anything else to MaxFileBytes.
func ReadInput(path string, stdin io.Reader) (Input, error) {
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return Input{}, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, MaxAWXBytes+1))
	if err != nil {
		return Input{}, fmt.Errorf("read %s: %w", path, err)
	}
	limit := MaxFileBytes
	if isJSON(b) {
		limit = MaxAWXBytes
	}
	if len(b) > limit {
		return Input{}, fmt.Errorf("%s: larger than %d MiB", path, limit>>20)
	}
	return Input{Path: path, Data: b}, nil
}

func isJSON(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n\ufeff")
	return len(b) > 0 && b[0] == '{'
}

// ImportOptions say how plugin files are imported.
type ImportOptions struct {
	// Inventory receives the plugin files' sources (created if missing).
	Inventory string
	// Name names the source of the one plugin file (default: the file's
	// name without its plugin suffix).
	Name string
	// Secrets lists the options of a provider that hold secrets, which
	// import leaves out of a source's config: the server's drivers'
	// (sources.Registry.SecretOptions).
	Secrets func(provider string) []string
}

// Note is one thing import did not carry over, and why; or a source, an
// inventory, a file it skipped whole (Skipped).
type Note struct {
	Where   string // the file, and the AWX object in it
	What    string
	Skipped bool
}

func (n Note) String() string { return n.Where + ": " + n.What }

// Imported is what import makes of its inputs: the documents apply would
// take (an inventory document for each inventory, a source document for
// each source), and notes on what it did not carry over.
type Imported struct {
	Docs  []Document
	Notes []Note

	origin      map[string]string // source key: where it came from
	credentials map[string]awxCredential
	resolved    bool
	secrets     func(provider string) []string
	applied     int // inventories and sources Apply made or found as declared
	didApply    bool
}

// awxCredential is the AWX credential a source used.
type awxCredential struct {
	Name string // as in AWX
	Type string // AWX's credential type name
}

func (im *Imported) note(where string, skipped bool, format string, args ...any) {
	im.Notes = append(im.Notes, Note{Where: where, What: fmt.Sprintf(format, args...), Skipped: skipped})
}

// Skipped counts the notes of what was skipped whole.
func (im *Imported) Skipped() int {
	n := 0
	for _, note := range im.Notes {
		if note.Skipped {
			n++
		}
	}
	return n
}

// Imported counts the inventories and sources imported: the documents,
// or after Apply those it created or updated, or found as declared.
func (im *Imported) Imported() int {
	if im.didApply {
		return im.applied
	}
	return len(im.Docs)
}

// Import turns plugin files and AWX exports into documents. A file or an
// AWX object it cannot carry over is a note, not an error; the error is
// for what makes the whole import wrong (plugin files without an
// inventory, --name for several files).
func Import(inputs []Input, opts ImportOptions) (*Imported, error) {
	if opts.Secrets == nil {
		return nil, errors.New("import: ImportOptions.Secrets is required")
	}
	im := &Imported{origin: map[string]string{}, credentials: map[string]awxCredential{}, secrets: opts.Secrets}
	var plugins []Input
	for _, in := range inputs {
		kind, err := inputKind(in)
		switch {
		case err != nil:
			im.note(in.Path, true, "skipped: %v", err)
		case kind == "plugin":
			plugins = append(plugins, in)
		default:
			im.importAWX(in)
		}
	}
	if len(plugins) > 0 {
		if opts.Inventory == "" {
			return nil, fmt.Errorf("%s: a plugin file's source needs an inventory: give --inventory NAME", plugins[0].Path)
		}
		if fe := validName(opts.Inventory); fe != "" {
			return nil, fmt.Errorf("--inventory %q: %s", opts.Inventory, fe)
		}
		if opts.Name != "" {
			if len(plugins) > 1 {
				return nil, fmt.Errorf("--name names the source of one plugin file, and %d are given", len(plugins))
			}
			if fe := validName(opts.Name); fe != "" {
				return nil, fmt.Errorf("--name %q: %s", opts.Name, fe)
			}
		}
		im.addInventory(Document{Kind: KindInventory, Pos: Pos{File: plugins[0].Path, Line: 1}, Inventory: &Inventory{Name: opts.Inventory}})
		for _, in := range plugins {
			im.importPlugin(in, opts)
		}
	} else if opts.Name != "" || opts.Inventory != "" {
		return nil, errors.New("--inventory and --name are for plugin files: an AWX export names its inventories and sources")
	}
	return im, nil
}

// inputKind tells a plugin file ("plugin", a mapping with a plugin key)
// from an AWX export ("awx", a mapping with inventory or
// inventory_sources).
func inputKind(in Input) (string, error) {
	var top map[string]skip
	if isJSON(in.Data) {
		if err := json.Unmarshal(in.Data, &top); err != nil {
			return "", fmt.Errorf("not JSON: %v", err)
		}
	} else {
		var n yaml.Node
		if err := yaml.Unmarshal(in.Data, &n); err != nil {
			return "", fmt.Errorf("not YAML: %v", err)
		}
		if len(n.Content) == 0 || n.Content[0].Kind != yaml.MappingNode {
			return "", errors.New("neither an Ansible inventory plugin file (a mapping with a plugin key) nor an AWX export")
		}
		top = map[string]skip{}
		for i := 0; i+1 < len(n.Content[0].Content); i += 2 {
			top[n.Content[0].Content[i].Value] = skip{}
		}
	}
	if _, ok := top["plugin"]; ok {
		return "plugin", nil
	}
	_, inv := top["inventory"]
	_, srcs := top["inventory_sources"]
	if inv || srcs {
		return "awx", nil
	}
	return "", errors.New("neither an Ansible inventory plugin file (no plugin key) nor an AWX export (no inventory or inventory_sources)")
}

// addInventory adds an inventory document unless one of that name is there.
func (im *Imported) addInventory(d Document) bool {
	for _, e := range im.Docs {
		if e.Kind == KindInventory && e.Inventory.Name == d.Inventory.Name {
			return false
		}
	}
	im.Docs = append(im.Docs, d)
	return true
}

// addSource adds a source document, or notes that its name is taken.
func (im *Imported) addSource(where string, d Document) bool {
	key := d.Key()
	if prev, ok := im.origin[key]; ok {
		im.note(where, true, "skipped: source %s is also %s's: sources of an inventory need distinct names", key, prev)
		return false
	}
	im.origin[key] = where
	im.Docs = append(im.Docs, d)
	return true
}

// pluginSuffixes are the file name endings the Ansible plugins require,
// with the provider each says.
var pluginSuffixes = []struct{ suffix, provider string }{
	{"aws_ec2", "aws"},
	{"gcp_compute", "gcp"},
	{"gcp", "gcp"},
	{"azure_rm", "azure"},
	{"openstack", "openstack"},
}

// pluginOf is each provider's fully qualified plugin name.
var pluginOf = map[string]string{
	"aws":       "amazon.aws.aws_ec2",
	"gcp":       "google.cloud.gcp_compute",
	"azure":     "azure.azcollection.azure_rm",
	"openstack": "openstack.cloud.openstack",
}

// fileSuffix splits a plugin file's name into its stem and the provider
// its plugin suffix says ("" when it has none).
func fileSuffix(path string) (stem, provider string) {
	base := filepath.Base(path)
	ext := filepath.Ext(base)
	if ext != ".yml" && ext != ".yaml" {
		return strings.TrimSuffix(base, ext), ""
	}
	base = strings.TrimSuffix(base, ext)
	for _, s := range pluginSuffixes {
		if base == s.suffix {
			return s.suffix, s.provider
		}
		for _, sep := range []string{".", "_", "-"} {
			if stem, ok := strings.CutSuffix(base, sep+s.suffix); ok {
				return stem, s.provider
			}
		}
	}
	return base, ""
}

func (im *Imported) importPlugin(in Input, opts ImportOptions) {
	where := in.Path
	dec := yaml.NewDecoder(bytes.NewReader(in.Data))
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		im.note(where, true, "skipped: %v", err)
		return
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		im.note(where, true, "skipped: a plugin file is one YAML document, and this one has more")
		return
	}
	v, err := jsonValue(raw)
	if err != nil {
		im.note(where, true, "skipped: %v", err)
		return
	}
	config, _ := v.(map[string]any)
	plugin, _ := config["plugin"].(string)
	provider := ProviderOfPlugin(plugin)
	stem, fileProvider := fileSuffix(in.Path)
	switch {
	case plugin == "constructed" || plugin == "ansible.builtin.constructed":
		im.note(where, true, "skipped: plugin %s has no Roster source: it reads other inventories, so it becomes a constructed inventory that names them (roster inventory create NAME --kind constructed --input INV... --source-vars %s), or its options go in the config of the sources they apply to", plugin, in.Path)
		return
	case plugin == "auto" || plugin == "ansible.builtin.auto":
		im.note(where, true, "skipped: plugin auto only picks another plugin: name the cloud's plugin (%s)", strings.Join(knownPlugins(), ", "))
		return
	case provider == "":
		im.note(where, true, "skipped: plugin %q has no Roster provider (Roster's plugins: %s)", plugin, strings.Join(knownPlugins(), ", "))
		return
	case fileProvider != "" && fileProvider != provider:
		im.note(where, true, "skipped: the file's name says plugin %s, its plugin key %s: Ansible would not read it so; rename the file or fix the key", pluginOf[fileProvider], plugin)
		return
	}
	for _, opt := range stripSecrets(im.secrets(provider), config) {
		im.note(where, false, "option %s not imported: it holds a secret, and a source's config never does; create a credential (roster credential create NAME --type %s --field ...) and name it in the source (credential: NAME)", opt, provider)
	}
	name := opts.Name
	if name == "" {
		name = sanitizeName(stem)
		if name == "" {
			name = provider
		}
		if fe := validName(name); fe != "" {
			im.note(where, true, "skipped: no source name comes of the file's name (%s): give --name", fe)
			return
		}
	}
	im.addSource(where, Document{Kind: KindSource, Pos: Pos{File: in.Path, Line: 1}, Source: &Source{
		Inventory: opts.Inventory, Name: name, Config: config,
	}})
}

func knownPlugins() []string {
	return []string{pluginOf["aws"], pluginOf["gcp"], pluginOf["azure"], pluginOf["openstack"]}
}

// stripSecrets removes from config the options that hold secrets (paths
// as sources.SecretHolder gives them) and returns their paths, sorted.
// Values are never looked at beyond their keys.
func stripSecrets(secrets []string, config map[string]any) []string {
	var gone []string
	var strip func(m map[string]any, path []string, done string)
	strip = func(m map[string]any, path []string, done string) {
		if len(path) == 1 {
			if _, ok := m[path[0]]; ok {
				delete(m, path[0])
				gone = append(gone, done+path[0])
			}
			return
		}
		keys := []string{path[0]}
		if path[0] == "*" {
			keys = sortedKeys(m)
		}
		for _, k := range keys {
			if sub, ok := m[k].(map[string]any); ok {
				strip(sub, path[1:], done+k+".")
			}
		}
	}
	for _, p := range secrets {
		strip(config, strings.Split(p, "."), "")
	}
	sort.Strings(gone)
	return slices.Compact(gone)
}

var nameUnsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// sanitizeName makes a Roster name of s: runs of other characters become
// one '-', leading and trailing punctuation goes, at most 63 characters.
func sanitizeName(s string) string {
	s = nameUnsafe.ReplaceAllString(strings.TrimSpace(s), "-")
	s = strings.TrimLeft(s, "._-")
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.TrimRight(s, ".-_")
}

var (
	namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// validName returns why name is not a Roster name ("" when it is): the
// server's rule (roster.ValidateName).
func validName(name string) string {
	if !namePattern.MatchString(name) {
		return "a name is 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit"
	}
	if uuidPattern.MatchString(name) {
		return "a name must not look like an id (a UUID)"
	}
	return ""
}

// ---- AWX

// skip is a JSON value import reads past: a list of them counts the
// elements without keeping them.
type skip struct{}

func (*skip) UnmarshalJSON([]byte) error { return nil }

// awxKey is an AWX natural key: {"type": ..., "name": ..., "organization":
// {...}, "inventory": {...}, ...}.
type awxKey struct {
	Type           string  `json:"type"`
	Name           string  `json:"name"`
	Organization   *awxKey `json:"organization"`
	Inventory      *awxKey `json:"inventory"`
	CredentialType *awxKey `json:"credential_type"`
}

func (k *awxKey) orgName() string {
	if k == nil || k.Organization == nil {
		return ""
	}
	return k.Organization.Name
}

// awxExport is the part of an `awx export` document import reads.
type awxExport struct {
	Inventory        []awxInventory `json:"inventory"`
	InventorySources []awxSource    `json:"inventory_sources"`
	Schedules        []awxSchedule  `json:"schedules"`
}

type awxInventory struct {
	Name         string          `json:"name"`
	Description  string          `json:"description"`
	Kind         string          `json:"kind"`
	HostFilter   string          `json:"host_filter"`
	Variables    json.RawMessage `json:"variables"`
	Organization *awxKey         `json:"organization"`
	NaturalKey   *awxKey         `json:"natural_key"`
	Related      struct {
		InventorySources []awxSource `json:"inventory_sources"`
		Hosts            []skip      `json:"hosts"`
		Groups           []skip      `json:"groups"`
	} `json:"related"`
}

func (inv *awxInventory) org() string {
	if inv.Organization != nil {
		return inv.Organization.Name
	}
	return inv.NaturalKey.orgName()
}

type awxSource struct {
	Name                 string          `json:"name"`
	Source               string          `json:"source"`
	SourceVars           json.RawMessage `json:"source_vars"`
	Credential           json.RawMessage `json:"credential"`
	Inventory            *awxKey         `json:"inventory"`
	NaturalKey           *awxKey         `json:"natural_key"`
	Overwrite            *bool           `json:"overwrite"`
	UpdateOnLaunch       bool            `json:"update_on_launch"`
	UpdateCacheTimeout   int             `json:"update_cache_timeout"`
	Timeout              int             `json:"timeout"`
	EnabledVar           string          `json:"enabled_var"`
	HostFilter           string          `json:"host_filter"`
	Limit                string          `json:"limit"`
	ExecutionEnvironment json.RawMessage `json:"execution_environment"`
	Related              struct {
		Schedules []awxSchedule `json:"schedules"`
	} `json:"related"`
}

// inventoryKey is the natural key of the source's inventory.
func (s *awxSource) inventoryKey() *awxKey {
	if s.Inventory != nil {
		return s.Inventory
	}
	if s.NaturalKey != nil {
		return s.NaturalKey.Inventory
	}
	return nil
}

type awxSchedule struct {
	Name               string  `json:"name"`
	Rrule              string  `json:"rrule"`
	Enabled            *bool   `json:"enabled"`
	UnifiedJobTemplate *awxKey `json:"unified_job_template"`
}

// awxProviders maps AWX's inventory source types to Roster's providers.
var awxProviders = map[string]string{"ec2": "aws", "gce": "gcp", "azure_rm": "azure", "openstack": "openstack"}

// awxUnsupported says why other AWX source types are not carried over.
var awxUnsupported = map[string]string{
	"scm":         "it reads an inventory file or script from a project (git): Roster's sources are cloud APIs",
	"file":        "it reads an inventory file: Roster's sources are cloud APIs",
	"custom":      "it runs a custom inventory script: Roster's sources are cloud APIs",
	"constructed": "not imported yet: make it a constructed inventory that names its inputs (roster inventory create NAME --kind constructed --input INV... --source-vars FILE with its source_vars)",
	"controller":  "it imports another AWX or Automation Controller (Roster can be such a source of AWX, not take one)",
	"tower":       "it imports another AWX or Automation Controller (Roster can be such a source of AWX, not take one)",
}

// awxTypes names AWX's credential types of the four clouds (natural key
// names) by Roster's credential type.
var awxCredentialTypes = map[string]string{
	"aws": "Amazon Web Services", "gcp": "Google Compute Engine",
	"azure": "Microsoft Azure Resource Manager", "openstack": "OpenStack",
}

func (im *Imported) importAWX(in Input) {
	file := in.Path
	data := in.Data
	if !isJSON(data) {
		// awx export -f yaml: the same document in YAML.
		var v any
		if err := yaml.Unmarshal(data, &v); err != nil {
			im.note(file, true, "skipped: %v", err)
			return
		}
		j, err := jsonValue(v)
		if err == nil {
			data, err = json.Marshal(j)
		}
		if err != nil {
			im.note(file, true, "skipped: %v", err)
			return
		}
	}
	var ex awxExport
	if err := json.Unmarshal(data, &ex); err != nil {
		im.note(file, true, "skipped: not an AWX export: %v", err)
		return
	}
	var top map[string][]skip
	if json.Unmarshal(data, &top) == nil {
		for _, k := range sortedKeys(top) {
			if n := len(top[k]); n > 0 && !slices.Contains([]string{"inventory", "inventory_sources", "schedules"}, k) {
				im.note(file, false, "%d %s not imported: import reads inventories and inventory sources", n, strings.ReplaceAll(k, "_", " "))
			}
		}
	}

	// Inventories, each with the sources exported in it (older awxkit) or
	// naming it (inventory_sources).
	type invEntry struct {
		inv     *awxInventory
		name    string // in Roster
		skipped bool
	}
	byKey := map[[2]string]*invEntry{} // organization, AWX name
	names := map[string]string{}       // Roster name: AWX description of who has it
	var order []*invEntry
	for i := range ex.Inventory {
		inv := &ex.Inventory[i]
		where := fmt.Sprintf("%s: inventory %q", file, inv.Name)
		e := &invEntry{inv: inv}
		byKey[[2]string{inv.org(), inv.Name}] = e
		order = append(order, e)
		switch inv.Kind {
		case "", "normal":
		case "smart":
			e.skipped = true
			im.note(where, true, "skipped: not imported yet: make it a smart inventory that names its inputs (AWX's filter spans the organization; roster inventory create NAME --kind smart --input INV... --host-filter %q)", inv.HostFilter)
			continue
		case "constructed":
			e.skipped = true
			im.note(where, true, "skipped: %s", awxUnsupported["constructed"])
			continue
		default:
			e.skipped = true
			im.note(where, true, "skipped: inventory kind %q is not known", inv.Kind)
			continue
		}
		e.name = im.awxName(where, inv.Name)
		if e.name == "" {
			e.skipped = true
			continue
		}
		if prev, ok := names[e.name]; ok {
			e.skipped = true
			im.note(where, true, "skipped: its name in Roster, %s, is also %s's (Roster has no organizations)", e.name, prev)
			continue
		}
		names[e.name] = fmt.Sprintf("inventory %q of organization %q", inv.Name, inv.org())
		im.addInventory(Document{Kind: KindInventory, Pos: Pos{File: file, Line: 1}, Inventory: &Inventory{Name: e.name, Description: inv.Description}})
		if n, m := len(inv.Related.Hosts), len(inv.Related.Groups); n+m > 0 {
			im.note(where, false, "%d hosts and %d groups not imported: Roster's hosts and groups come from its sources", n, m)
		}
		if vars := awxVars(inv.Variables); len(vars) > 0 {
			im.note(where, false, "its variables (%s) not imported: set them as group all's (roster group update %s all --vars FILE)", strings.Join(sortedKeys(vars), ", "), e.name)
		}
	}
	// The sources: those inside inventories, then the top-level ones.
	type srcEntry struct {
		src *awxSource
		inv *invEntry
	}
	var srcs []srcEntry
	seen := map[[3]string]bool{} // organization, inventory, source
	for _, e := range order {
		for i := range e.inv.Related.InventorySources {
			s := &e.inv.Related.InventorySources[i]
			seen[[3]string{e.inv.org(), e.inv.Name, s.Name}] = true
			srcs = append(srcs, srcEntry{s, e})
		}
	}
	for i := range ex.InventorySources {
		s := &ex.InventorySources[i]
		k := s.inventoryKey()
		if k == nil || k.Name == "" {
			im.note(fmt.Sprintf("%s: inventory source %q", file, s.Name), true, "skipped: it names no inventory")
			continue
		}
		if seen[[3]string{k.orgName(), k.Name, s.Name}] {
			continue // exported inside its inventory too
		}
		e, ok := byKey[[2]string{k.orgName(), k.Name}]
		if !ok {
			// An export of the sources alone: their inventory, by name.
			e = &invEntry{inv: &awxInventory{Name: k.Name, Organization: k.Organization}}
			where := fmt.Sprintf("%s: inventory %q", file, k.Name)
			e.name = im.awxName(where, k.Name)
			if prev, taken := names[e.name]; taken && e.name != "" {
				im.note(where, true, "skipped: its name in Roster, %s, is also %s's (Roster has no organizations)", e.name, prev)
				e.skipped = true
			} else if e.name == "" {
				e.skipped = true
			} else {
				names[e.name] = fmt.Sprintf("inventory %q of organization %q", k.Name, k.orgName())
				im.addInventory(Document{Kind: KindInventory, Pos: Pos{File: file, Line: 1}, Inventory: &Inventory{Name: e.name}})
			}
			byKey[[2]string{k.orgName(), k.Name}] = e
		}
		srcs = append(srcs, srcEntry{s, e})
	}
	// Top-level schedules, by the source they run.
	schedules := map[[3]string][]awxSchedule{} // organization, inventory, source
	others := 0
	for _, sc := range ex.Schedules {
		u := sc.UnifiedJobTemplate
		if u == nil || u.Type != "inventory_source" || u.Inventory == nil {
			others++
			continue
		}
		k := [3]string{u.Inventory.orgName(), u.Inventory.Name, u.Name}
		schedules[k] = append(schedules[k], sc)
	}
	if others > 0 {
		im.note(file, false, "%d schedules of other things than inventory sources not imported", others)
	}
	for _, se := range srcs {
		s, e := se.src, se.inv
		where := fmt.Sprintf("%s: inventory source %q/%q", file, e.inv.Name, s.Name)
		if e.skipped {
			im.note(where, true, "skipped with its inventory")
			continue
		}
		scheds := append(slices.Clone(s.Related.Schedules), schedules[[3]string{e.inv.org(), e.inv.Name, s.Name}]...)
		im.awxSource(where, file, e.name, s, scheds)
	}
}

// awxName makes a Roster name of an AWX one, noting a change.
func (im *Imported) awxName(where, name string) string {
	n := sanitizeName(name)
	if fe := validName(n); fe != "" {
		im.note(where, true, "skipped: no Roster name comes of its name (%s)", fe)
		return ""
	}
	if n != name {
		im.note(where, false, "named %s in Roster (names are letters, digits, '.', '_' and '-')", n)
	}
	return n
}

// awxVars reads AWX variables: a YAML or JSON text (as AWX stores them)
// or an object.
func awxVars(raw json.RawMessage) map[string]any {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var text string
	if json.Unmarshal(raw, &text) != nil {
		var m map[string]any
		json.Unmarshal(raw, &m)
		return m
	}
	var v any
	if yaml.Unmarshal([]byte(text), &v) != nil {
		return nil
	}
	j, err := jsonValue(v)
	if err != nil {
		return nil
	}
	m, _ := j.(map[string]any)
	return m
}

func (im *Imported) awxSource(where, file, inventory string, s *awxSource, scheds []awxSchedule) {
	provider, ok := awxProviders[s.Source]
	if !ok {
		why, known := awxUnsupported[s.Source]
		if !known {
			why = fmt.Sprintf("source type %q has no Roster provider (Roster's: ec2, gce, azure_rm, openstack)", s.Source)
		}
		im.note(where, true, "skipped: %s", why)
		return
	}
	name := im.awxName(where, s.Name)
	if name == "" {
		return
	}
	// source_vars: the plugin file, without its plugin key (AWX sets it).
	config := map[string]any{}
	if raw := s.SourceVars; len(raw) > 0 && string(raw) != "null" {
		var text string
		if json.Unmarshal(raw, &text) == nil {
			if strings.TrimSpace(text) != "" {
				var v any
				if err := yaml.Unmarshal([]byte(text), &v); err != nil {
					im.note(where, true, "skipped: its source_vars are not YAML: %v", err)
					return
				}
				j, err := jsonValue(v)
				if err != nil {
					im.note(where, true, "skipped: source_vars: %v", err)
					return
				}
				m, ok := j.(map[string]any)
				if j != nil && !ok {
					im.note(where, true, "skipped: its source_vars are not a mapping of options")
					return
				}
				if m != nil {
					config = m
				}
			}
		} else if err := json.Unmarshal(raw, &config); err != nil {
			im.note(where, true, "skipped: its source_vars are not a mapping of options")
			return
		}
	}
	config["plugin"] = pluginOf[provider]
	for _, opt := range stripSecrets(im.secrets(provider), config) {
		im.note(where, false, "option %s not imported: it holds a secret, and a source's config never does; create a credential of type %s and name it in the source", opt, provider)
	}
	src := &Source{Inventory: inventory, Name: name, Config: config, OnMissing: "remove"}
	if s.Overwrite != nil && !*s.Overwrite {
		// AWX keeps hosts the cloud no longer reports; Roster keeps them
		// disabled.
		src.OnMissing = "disable"
	}
	if s.UpdateOnLaunch {
		src.UpdateCacheTimeout = s.UpdateCacheTimeout
		if src.UpdateCacheTimeout <= 0 {
			// AWX updates before every job; Roster before every read
			// whose last sync is older than a second.
			src.UpdateCacheTimeout = 1
		}
	}
	switch d := time.Duration(s.Timeout) * time.Second; {
	case s.Timeout <= 0:
	case d > 24*time.Hour:
		im.note(where, false, "timeout %ds not imported: a source's timeout is at most 24h", s.Timeout)
	default:
		src.Timeout = d.String()
	}
	if s.EnabledVar != "" {
		im.note(where, false, "enabled_var %s not imported: a host's enabled state in Roster comes from its provider (stopped or missing instances)", s.EnabledVar)
	}
	if s.HostFilter != "" {
		im.note(where, false, "host_filter not imported: filter in the source's config (filters, exclude_filters, ...) instead")
	}
	if s.Limit != "" {
		im.note(where, false, "limit not imported: Roster's sources have none")
	}
	if len(s.ExecutionEnvironment) > 0 && string(s.ExecutionEnvironment) != "null" {
		im.note(where, false, "execution_environment not imported: Roster runs no Ansible to sync")
	}
	im.awxSchedules(where, src, scheds)
	key := inventory + "/" + name
	if c := awxCredentialOf(s.Credential); c != nil {
		im.credentials[key] = *c
	}
	im.addSource(where, Document{Kind: KindSource, Pos: Pos{File: file, Line: 1}, Source: src})
}

// awxCredentialOf reads a source's credential: a natural key, or an id.
func awxCredentialOf(raw json.RawMessage) *awxCredential {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var k awxKey
	if json.Unmarshal(raw, &k) == nil && k.Name != "" {
		c := &awxCredential{Name: k.Name}
		if k.CredentialType != nil {
			c.Type = k.CredentialType.Name
		}
		return c
	}
	var id json.Number
	if json.Unmarshal(raw, &id) == nil {
		return &awxCredential{Name: "id " + id.String()}
	}
	return nil
}

// awxSchedules carries the one enabled schedule of a source over, when
// its rrule says an interval or a daily or weekly time.
func (im *Imported) awxSchedules(where string, src *Source, scheds []awxSchedule) {
	var enabled []awxSchedule
	for _, sc := range scheds {
		if sc.Enabled != nil && !*sc.Enabled {
			im.note(where, false, "schedule %q not imported: it is disabled", sc.Name)
			continue
		}
		enabled = append(enabled, sc)
	}
	switch len(enabled) {
	case 0:
		return
	case 1:
	default:
		names := make([]string, len(enabled))
		for i, sc := range enabled {
			names[i] = strconv.Quote(sc.Name)
		}
		im.note(where, false, "schedules %s not imported: a Roster source has one schedule; give it one (schedule: 1h, or a cron expression)", strings.Join(names, ", "))
		return
	}
	sc := enabled[0]
	spec, why := scheduleOfRrule(sc.Rrule)
	if why != "" {
		im.note(where, false, "schedule %q (%s) not imported: %s; give the source a schedule (an interval such as 1h, or a cron expression)", sc.Name, sc.Rrule, why)
		return
	}
	src.Schedule = spec
}

// scheduleOfRrule turns an AWX schedule's rrule into a Roster schedule:
// MINUTELY and HOURLY into an interval (the start time's phase is lost),
// DAILY and WEEKLY (every day or week) into a cron expression at the start
// time, in its time zone. why says why another cannot be.
func scheduleOfRrule(rrule string) (spec, why string) {
	var start time.Time
	tz := ""
	parts := map[string]string{}
	for _, line := range strings.Fields(rrule) {
		switch {
		case strings.HasPrefix(line, "DTSTART"):
			head, value, ok := strings.Cut(line, ":")
			if !ok {
				return "", "its DTSTART is not understood"
			}
			if _, zone, ok := strings.Cut(head, ";TZID="); ok {
				tz = zone
			}
			layout := "20060102T150405"
			if strings.HasSuffix(value, "Z") {
				layout += "Z"
			}
			t, err := time.Parse(layout, value)
			if err != nil {
				return "", "its DTSTART is not understood"
			}
			start = t
		case strings.HasPrefix(line, "RRULE:"):
			for _, kv := range strings.Split(strings.TrimPrefix(line, "RRULE:"), ";") {
				k, v, _ := strings.Cut(kv, "=")
				parts[k] = v
			}
		default:
			return "", "it has more than a DTSTART and an RRULE"
		}
	}
	if parts["FREQ"] == "" {
		return "", "it has no RRULE"
	}
	interval := 1
	if v, ok := parts["INTERVAL"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return "", "its INTERVAL is not understood"
		}
		interval = n
	}
	for k := range parts {
		switch k {
		case "FREQ", "INTERVAL", "WKST":
		case "BYDAY":
			if parts["FREQ"] != "WEEKLY" {
				return "", "BYDAY goes only with FREQ=WEEKLY here"
			}
		case "COUNT", "UNTIL":
			return "", "Roster's schedules do not end (" + k + ")"
		default:
			return "", k + " has no Roster equivalent"
		}
	}
	switch parts["FREQ"] {
	case "MINUTELY":
		spec = (time.Duration(interval) * time.Minute).String()
	case "HOURLY":
		spec = (time.Duration(interval) * time.Hour).String()
	case "DAILY", "WEEKLY":
		if interval != 1 {
			return "", "a cron expression cannot say every " + strconv.Itoa(interval) + " days or weeks"
		}
		if start.IsZero() {
			return "", "it has no DTSTART to take the time of day from"
		}
		dow := "*"
		if parts["FREQ"] == "WEEKLY" {
			days := []string{}
			byday := parts["BYDAY"]
			if byday == "" {
				byday = []string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}[start.Weekday()]
			}
			for _, d := range strings.Split(byday, ",") {
				i := slices.Index([]string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}, d)
				if i < 0 {
					return "", "its BYDAY " + d + " is not understood"
				}
				days = append(days, strconv.Itoa(i))
			}
			dow = strings.Join(days, ",")
		}
		spec = fmt.Sprintf("%d %d * * %s", start.Minute(), start.Hour(), dow)
		if tz != "" && tz != "UTC" {
			spec = "CRON_TZ=" + tz + " " + spec
		}
	default:
		return "", "FREQ=" + parts["FREQ"] + " has no Roster equivalent"
	}
	if _, err := schedule.Parse(spec); err != nil {
		return "", err.Error()
	}
	return spec, ""
}

// ---- against the server

// Resolve fits the documents to the server's state (nil for none, as for
// --print): an inventory that exists is left as it is (its document
// dropped); a source that exists keeps what import does not declare (its
// credential, schedule, timeout, ...); a source whose AWX credential has a
// Roster credential of the same name uses it; the others are noted.
func (im *Imported) Resolve(st *State) {
	if im.resolved {
		return
	}
	im.resolved = true
	docs := im.Docs[:0]
	for _, d := range im.Docs {
		if d.Kind == KindInventory && st != nil && st.Inventories[d.Inventory.Name] != nil {
			continue
		}
		docs = append(docs, d)
	}
	im.Docs = docs
	for _, d := range im.Docs {
		if d.Kind != KindSource {
			continue
		}
		s, key := d.Source, d.Key()
		var cur *apiSource
		if st != nil {
			cur = st.Sources[key]
		}
		if cur != nil {
			keep := func(field *string, have string) {
				if *field == "" {
					*field = have
				}
			}
			keep(&s.Credential, st.credentialName(cur.Credential))
			keep(&s.Schedule, cur.Schedule)
			keep(&s.ScheduleJitter, cur.ScheduleJitter)
			keep(&s.Timeout, cur.Timeout)
			keep(&s.OnMissing, cur.OnMissing)
			if s.UpdateCacheTimeout == 0 {
				s.UpdateCacheTimeout = cur.UpdateCacheTimeout
			}
		}
		c, ok := im.credentials[key]
		if !ok || s.Credential != "" {
			continue
		}
		if n := sanitizeName(c.Name); st != nil && n != "" && st.Credentials[n] != nil {
			s.Credential = n
			continue
		}
		typ := ""
		if c.Type != "" {
			typ = " (" + c.Type + ")"
		}
		im.note(im.origin[key], false, "credential %q%s not imported: AWX exports no secrets; create a credential of type %s (roster credential create %s --type %s --field ...), then import again (a credential of that name is used) or name it in the source",
			c.Name, typ, s.provider(), orName(sanitizeName(c.Name), "NAME"), s.provider())
	}
}

func (s *Source) provider() string {
	if s.Provider != "" {
		return s.Provider
	}
	p, _ := s.Config["plugin"].(string)
	return ProviderOfPlugin(p)
}

func orName(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Apply makes the server hold the imported documents: the inventories
// missing are created, then each source is planned and applied alone,
// so that one the server refuses (a note, Skipped) does not stop the
// others. Unlike apply, import keeps no ownership record: `roster apply
// --prune` never deletes what import made. It writes one line per change
// to out (with dryRun, the changes it would make), or "no changes", and
// notes the server's warnings on the sources' options.
func (im *Imported) Apply(ctx context.Context, api API, st *State, out io.Writer, dryRun bool) error {
	im.Resolve(st)
	changes := 0
	failedInv := map[string]bool{}
	for _, d := range im.Docs {
		if d.Kind != KindInventory {
			continue
		}
		inv := d.Inventory
		line := "+ inventory " + inv.Name
		if !dryRun {
			body := map[string]any{"name": inv.Name}
			if inv.Description != "" {
				body["description"] = inv.Description
			}
			var created apiInventory
			if err := api.Do(ctx, "POST", "/inventories", body, &created); err != nil {
				failedInv[inv.Name] = true
				im.note(d.Pos.File, true, "skipped: inventory %s, with its sources: %v", inv.Name, err)
				continue
			}
			st.Inventories[inv.Name] = &created
			st.invByID[created.ID] = &created
		} else {
			st.Inventories[inv.Name] = &apiInventory{Name: inv.Name}
		}
		fmt.Fprintln(out, line)
		changes++
		im.applied++
	}
	x := &executor{api: api, owners: map[string]owner{}, texts: map[string]string{}, descriptions: map[string]string{},
		touched: map[string]bool{}, deleted: map[string]bool{}, state: st}
	var done []string
	for _, d := range im.Docs {
		if d.Kind != KindSource {
			continue
		}
		key, where := d.Key(), im.origin[d.Key()]
		if failedInv[d.Source.Inventory] {
			continue
		}
		p, err := NewPlan([]Document{d}, st, Options{})
		if err != nil {
			im.note(where, true, "skipped: %s", strings.TrimPrefix(err.Error(), d.Pos.String()+": "))
			continue
		}
		ok := true
		for _, c := range p.Changes {
			if !dryRun {
				if err := c.do(ctx, x); err != nil {
					im.note(where, true, "skipped: source %s: the server refused it: %v", key, err)
					ok = false
					break
				}
			}
			fmt.Fprintln(out, c)
			changes++
		}
		if ok {
			done = append(done, key)
		}
	}
	im.didApply = true
	im.applied += len(done)
	switch {
	case changes == 0:
		fmt.Fprintln(out, "no changes")
	case dryRun:
		fmt.Fprintf(out, "dry run: %d change(s) not applied\n", changes)
	}
	// The server's warnings on options it accepts but does not act on.
	for _, key := range done {
		var src apiSource
		if dryRun {
			cur := st.Sources[key]
			if cur == nil {
				continue
			}
			src = *cur
		} else if err := api.Do(ctx, "GET", "/sources/"+url.PathEscape(key), nil, &src); err != nil {
			return fmt.Errorf("read source %s: %w", key, err)
		}
		for _, w := range src.Warnings {
			im.note(im.origin[key], false, "%s", w)
		}
	}
	return nil
}
