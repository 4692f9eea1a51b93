package sources

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/rosterhq/roster"
)

// Aliases renames alias keys of config to their canonical names in place,
// as Ansible's plugin options accept several names for one option. Giving
// an option under two names is an error.
func Aliases(config map[string]any, aliases map[string]string) error {
	var errs roster.FieldErrors
	keys := make([]string, 0, len(aliases))
	for k := range aliases {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, alias := range keys {
		v, ok := config[alias]
		if !ok {
			continue
		}
		canon := aliases[alias]
		if _, dup := config[canon]; dup {
			errs.Add(alias, "%q and %q are the same option; give only one", alias, canon)
			continue
		}
		delete(config, alias)
		config[canon] = v
	}
	return errs.Err()
}

// DecodeOptions begins a driver's parse of a source's options: on a copy
// of config, it refuses and drops the secret options (RejectSecrets),
// renames the aliases (Aliases) and decodes the rest into o (Decode). It
// returns the problems found so far, to which the driver adds its own
// checks, and whether o was decoded.
func DecodeOptions(config map[string]any, o any, secrets []string, aliases map[string]string) (errs roster.FieldErrors, decoded bool) {
	config = maps.Clone(config)
	errs.Merge("", RejectSecrets(config, secrets...))
	errs.Merge("", Aliases(config, aliases))
	return errs, errs.Merge("", Decode(config, o))
}

// MaxScopeConcurrency is the most scopes a source's concurrency option
// may ask to fetch at once.
const MaxScopeConcurrency = 64

// CheckConcurrency adds to errs the error of a concurrency option out of
// range: it is 0 (DefaultScopeConcurrency) or 1 to MaxScopeConcurrency.
func CheckConcurrency(errs *roster.FieldErrors, concurrency int) {
	if concurrency < 0 || concurrency > MaxScopeConcurrency {
		errs.Add("concurrency", "must be between 1 and %d (0 for the default, %d)", MaxScopeConcurrency, DefaultScopeConcurrency)
	}
}

// FirstDuplicate returns the first string of list that an earlier one
// repeats, "" when none does: a list option (regions, projects) names
// each scope once.
func FirstDuplicate(list []string) string {
	seen := make(map[string]bool, len(list))
	for _, s := range list {
		if seen[s] {
			return s
		}
		seen[s] = true
	}
	return ""
}

// RejectSecrets refuses options that would put a secret into a source's
// stored configuration, and removes them from config so that the rest of
// a driver's parse neither sees nor reports them again. Credentials come
// from the environment, the provider's default chain or the credential
// broker.
func RejectSecrets(config map[string]any, names ...string) error {
	var errs roster.FieldErrors
	for _, n := range names {
		if _, ok := config[n]; ok {
			errs.Add(n, "secrets are not stored in a source's configuration; provide credentials through the environment or the provider's default credential chain")
			delete(config, n)
		}
	}
	return errs.Err()
}

// SplitPlugin removes the "plugin" key a pasted Ansible plugin file carries
// and checks that it names this driver's plugin.
func SplitPlugin(config map[string]any, d Driver) error {
	v, ok := config["plugin"]
	if !ok {
		return nil
	}
	delete(config, "plugin")
	name, _ := v.(string)
	if slices.Contains(d.PluginNames(), name) {
		return nil
	}
	return roster.Invalid(roster.FieldError{
		Field:   "plugin",
		Message: fmt.Sprintf("%q is not a plugin of provider %q (expected one of %s)", v, d.Name(), strings.Join(d.PluginNames(), ", ")),
	})
}

// NoEffect is the warning for an option Roster accepts, for pasted plugin
// files, but does not act on: "option cache has no effect: why".
func NoEffect(option, why string) string {
	return fmt.Sprintf("option %s has no effect: %s", option, why)
}

// Warner is implemented by drivers that accept plugin options which have
// no effect in Roster (or act differently): Warnings says so, one message
// per option, for a config Validate accepts (nil otherwise).
type Warner interface {
	Warnings(config map[string]any) []string
}

// NoEffects collects, while a driver parses a source's options, the
// options given that have no effect in Roster, each with why. A driver's
// Options embed it; OptionWarnings hands them to the registry.
type NoEffects struct{ warnings []string }

// Warn records that option has no effect, and why (see NoEffect).
func (n *NoEffects) Warn(option, why string) {
	n.warnings = append(n.warnings, NoEffect(option, why))
}

// Warnings lists the options recorded by Warn, in order.
func (n *NoEffects) Warnings() []string { return n.warnings }

// OptionWarnings is a driver's Warnings (see Warner): what its parse of
// config says has no effect, nil when config is invalid.
func OptionWarnings[O interface{ Warnings() []string }](parse func(map[string]any) (O, error), config map[string]any) []string {
	o, err := parse(config)
	if err != nil {
		return nil
	}
	return o.Warnings()
}

// CacheOptions are the inventory_cache options every plugin documents.
// Roster keeps the inventory in its database and serves it from there, so
// they never apply.
var CacheOptions = []string{"cache", "cache_plugin", "cache_timeout", "cache_connection", "cache_prefix"}

const cacheReason = "Roster stores the inventory in its database and serves it from there; " +
	"sync on a schedule, or set the source's update_cache_timeout to sync before reads"

// takeCache removes the inventory_cache options from config (which the
// caller owns) and returns a warning for each one that asks for something:
// cache true, or any cache_* setting. cache must be a boolean.
func takeCache(config map[string]any) (warnings []string, err error) {
	var errs roster.FieldErrors
	for _, name := range CacheOptions {
		v, ok := config[name]
		if !ok {
			continue
		}
		delete(config, name)
		if name == "cache" {
			on, ok := Bool(v)
			if !ok {
				errs.Add(name, "must be a boolean")
			}
			if !on {
				continue
			}
		}
		warnings = append(warnings, NoEffect(name, cacheReason))
	}
	return warnings, errs.Err()
}

// Bool reads an Ansible boolean: true/false, or the strings Ansible's
// boolean() accepts (yes, no, on, off, 1, 0, ...). ok is false for
// anything else.
func Bool(v any) (b, ok bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case float64:
		if x == 0 || x == 1 {
			return x == 1, true
		}
	case int:
		if x == 0 || x == 1 {
			return x == 1, true
		}
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "y", "yes", "on", "1", "true", "t":
			return true, true
		case "n", "no", "off", "0", "false", "f", "":
			return false, true
		}
	}
	return false, false
}

// Reasons shared by the providers' warnings.
const (
	// SanitizationReason: use_contrib_script_compatible_sanitization.
	SanitizationReason = "group names are sanitised the way ansible-core does (every character but letters, digits " +
		"and _ becomes _); use regex_replace in keyed_groups for other spellings"
)
