package sources

import (
	"fmt"
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

// RejectSecrets refuses options that would put a secret into a source's
// stored configuration. Credentials come from the environment, the
// provider's default chain or (later) the credential broker.
func RejectSecrets(config map[string]any, names ...string) error {
	var errs roster.FieldErrors
	for _, n := range names {
		if _, ok := config[n]; ok {
			errs.Add(n, "secrets are not stored in a source's configuration; provide credentials through the environment or the provider's default credential chain")
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
