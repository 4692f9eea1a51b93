package ansibleinv

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/client"
)

// Config is where to find the inventory.
type Config struct {
	URL             string
	Token           roster.Secret
	TokenFile       string
	Inventory       string
	IncludeDisabled bool
	// Timeout bounds the whole read: connecting, waiting for the answer
	// (retries after 429/503 included) and receiving the document.
	Timeout time.Duration
	// MaxAge, when set, asks Roster to sync sources older than this
	// first (rounded up to whole seconds); nil leaves it to the sources'
	// update_cache_timeout.
	MaxAge *time.Duration
	// MaxSize bounds the document in bytes.
	MaxSize int64
	// CA, ClientCert and ClientKey are PEM files: the authorities that
	// sign Roster's certificate (instead of the system's), and a client
	// certificate for a server that asks for one (see client.TLS).
	CA, ClientCert, ClientKey string
	// CacheDir keeps the last --list document of each inventory with its
	// ETag, to ask Roster whether it changed ("": no cache).
	CacheDir string
	// Gzip says when to ask for the document gzip-encoded: GzipAuto
	// (the default, "") when Roster is not on this machine.
	Gzip string
}

// The values of Config.Gzip.
const (
	GzipAuto = "auto"
	GzipOn   = "on"
	GzipOff  = "off"
)

// TLS is the client's TLS settings.
func (c Config) TLS() client.TLS {
	return client.TLS{CA: c.CA, ClientCert: c.ClientCert, ClientKey: c.ClientKey}
}

// Defaults.
const (
	defaultURL     = "http://127.0.0.1:8080"
	defaultTimeout = 60 * time.Second
	// defaultMaxSize is several times the document of 100,000 hosts
	// (about 200 MB).
	defaultMaxSize = 1 << 30
)

// setting is one Config value and its names as a config file key, an
// environment variable and a flag (none for the token: a flag's value
// shows in the process list).
type setting struct {
	key, env, flag string
	arg            string // the flag's value in the usage text; "" for a switch
	usage          string
	path           bool   // a file name: ~/ is expanded; in the config file, relative to it
	keyword        string // with path: a value that is no file name
	set            func(c *Config, v string) error
}

func settings() []setting {
	duration := func(min time.Duration, dst func(*Config, time.Duration)) func(*Config, string) error {
		return func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < min {
				return errors.New("is not a duration such as 60s or 5m")
			}
			dst(c, d)
			return nil
		}
	}
	return []setting{
		{key: "url", env: "ROSTER_URL", flag: "url", arg: "URL",
			usage: "Roster's base URL (default " + defaultURL + ")",
			set:   func(c *Config, v string) error { c.URL = v; return nil }},
		// A layer that names a token file overrides a lower layer's token
		// and the other way round; within one layer the token wins.
		{key: "token_file", env: "ROSTER_TOKEN_FILE", flag: "token-file", arg: "FILE", path: true,
			usage: "a file holding the API token",
			set:   func(c *Config, v string) error { c.TokenFile, c.Token = v, ""; return nil }},
		{key: "token", env: "ROSTER_TOKEN",
			usage: "the API token itself",
			set:   func(c *Config, v string) error { c.Token, c.TokenFile = roster.Secret(v), ""; return nil }},
		{key: "ca", env: "ROSTER_CA", flag: "ca", arg: "FILE", path: true,
			usage: "PEM file of the CA that signs Roster's certificate (default: the system's CAs)",
			set:   func(c *Config, v string) error { c.CA = v; return nil }},
		{key: "client_cert", env: "ROSTER_CLIENT_CERT", flag: "client-cert", arg: "FILE", path: true,
			usage: "PEM file of a TLS client certificate, for a server that asks for one",
			set:   func(c *Config, v string) error { c.ClientCert = v; return nil }},
		{key: "client_key", env: "ROSTER_CLIENT_KEY", flag: "client-key", arg: "FILE", path: true,
			usage: "PEM file of the client certificate's key",
			set:   func(c *Config, v string) error { c.ClientKey = v; return nil }},
		{key: "inventory", env: "ROSTER_INVENTORY", flag: "inventory", arg: "NAME",
			usage: "the inventory's name or id (required)",
			set:   func(c *Config, v string) error { c.Inventory = v; return nil }},
		{key: "include_disabled", env: "ROSTER_INCLUDE_DISABLED", flag: "include-disabled",
			usage: "also list disabled hosts (true or false)",
			set: func(c *Config, v string) error {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return errors.New("is not true or false")
				}
				c.IncludeDisabled = b
				return nil
			}},
		{key: "cache", env: "ROSTER_CACHE", flag: "cache", arg: "DIR|off", path: true, keyword: "off",
			usage: "keep the last --list document here, to print it again while Roster says it is unchanged (default $XDG_CACHE_HOME/roster, else ~/.cache/roster; off: none)",
			set: func(c *Config, v string) error {
				if v == "off" {
					v = ""
				}
				c.CacheDir = v
				return nil
			}},
		{key: "gzip", env: "ROSTER_GZIP", flag: "gzip", arg: "auto|on|off",
			usage: "ask for the document gzip-encoded: auto (the default) asks unless Roster's address is this machine's (loopback), where sending it as it is costs less",
			set: func(c *Config, v string) error {
				switch v {
				case GzipAuto, GzipOn, GzipOff:
					c.Gzip = v
					return nil
				}
				return errors.New("is not auto, on or off")
			}},
		{key: "timeout", env: "ROSTER_TIMEOUT", flag: "timeout", arg: "DURATION",
			usage: "give up after this long (default 60s)",
			set:   duration(time.Millisecond, func(c *Config, d time.Duration) { c.Timeout = d })},
		{key: "max_age", env: "ROSTER_MAX_AGE", flag: "max-age", arg: "DURATION",
			usage: "first sync sources whose data is older, e.g. 5m",
			set:   duration(0, func(c *Config, d time.Duration) { c.MaxAge = &d })},
		{key: "max_size", env: "ROSTER_MAX_SIZE", flag: "max-size", arg: "SIZE",
			usage: "refuse a larger document, e.g. 512MiB (default 1GiB)",
			set: func(c *Config, v string) error {
				n, err := parseSize(v)
				if err != nil {
					return err
				}
				c.MaxSize = n
				return nil
			}},
	}
}

// configEnv names the environment variable holding the config file's path.
const configEnv = "ROSTER_INVENTORY_CONFIG"

// flagValue is a setting given on the command line.
type flagValue struct {
	flag, value string
}

// ClientFlags are the settings roster's remote commands take as flags,
// besides the environment and the config file: how to trust the server
// and prove themselves to it.
var ClientFlags = []string{"ca", "client-cert", "client-key"}

// LoadConfig reads the config file, if any, then the environment, then
// flags (by name, without dashes: those of ClientFlags given on roster's
// command line).
func LoadConfig(getenv func(string) string, exe string, flags map[string]string) (Config, error) {
	var fv []flagValue
	for _, name := range ClientFlags {
		if v, ok := flags[name]; ok {
			fv = append(fv, flagValue{flag: name, value: v})
		}
	}
	return loadConfig(getenv, exe, "", fv)
}

// loadConfig builds the Config from the defaults, then the config file
// (configFlag, else $ROSTER_INVENTORY_CONFIG, else the first of
// configPaths that exists), then the environment, then the flags.
func loadConfig(getenv func(string) string, exe, configFlag string, flags []flagValue) (Config, error) {
	c := Config{URL: defaultURL, Timeout: defaultTimeout, MaxSize: defaultMaxSize, CacheDir: defaultCacheDir(getenv)}
	all := settings()
	home := getenv("HOME")

	path, explicit := configFlag, true
	if path == "" {
		path = getenv(configEnv)
	}
	if path == "" {
		explicit = false
		for _, p := range configPaths(getenv, exe) {
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
	}
	if path != "" {
		path = expandHome(path, home)
		values, err := readConfigFile(path, all)
		switch {
		case err != nil && !explicit && errors.Is(err, os.ErrNotExist):
			// gone between Stat and ReadFile: as if it never was
		case err != nil:
			return c, err
		}
		for _, s := range all {
			v, ok := values[s.key]
			if !ok {
				continue
			}
			if s.path && v != s.keyword {
				v = expandHome(v, home)
				if !filepath.IsAbs(v) {
					v = filepath.Join(filepath.Dir(path), v)
				}
			}
			if err := s.set(&c, v); err != nil {
				return c, fmt.Errorf("config file %s: %s %q %v", path, s.key, v, err)
			}
		}
	}

	for _, s := range all {
		v := getenv(s.env)
		if v == "" {
			continue
		}
		if s.path && v != s.keyword {
			v = expandHome(v, home)
		}
		if err := s.set(&c, v); err != nil {
			return c, fmt.Errorf("%s=%q %v", s.env, v, err)
		}
	}

	for _, f := range flags {
		i := slices.IndexFunc(all, func(s setting) bool { return s.flag == f.flag })
		s, v := all[i], f.value
		if s.path && v != s.keyword {
			v = expandHome(v, home)
		}
		if err := s.set(&c, v); err != nil {
			return c, fmt.Errorf("--%s %q %v", s.flag, v, err)
		}
	}

	if c.Token == "" && c.TokenFile != "" {
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return c, fmt.Errorf("read the token file: %w", err)
		}
		c.Token = roster.Secret(strings.TrimSpace(string(b)))
		if c.Token == "" {
			return c, fmt.Errorf("the token file %s is empty", c.TokenFile)
		}
	}
	switch {
	case c.Inventory == "":
		return c, errors.New("no inventory given: set ROSTER_INVENTORY (or inventory: in the config file, or --inventory)")
	case c.Token == "":
		return c, errors.New("no API token given: set ROSTER_TOKEN or ROSTER_TOKEN_FILE (or token_file: in the config file, or --token-file)")
	}
	u, err := url.Parse(c.URL)
	switch {
	case err != nil:
		return c, errors.New("the Roster URL (ROSTER_URL, url:, --url) cannot be parsed: give one such as https://roster.example:8080")
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return c, fmt.Errorf("the Roster URL %s is not an http(s) URL such as https://roster.example:8080", displayURL(c.URL))
	}
	if err := client.CheckURL(c.URL); err != nil {
		return c, err
	}
	// The TLS files are read now, so a bad one is a settings error.
	if _, err := client.Transport(c.TLS()); err != nil {
		return c, err
	}
	return c, nil
}

// configPaths are where the config file is looked for when none is
// named: beside the program (so that one copied with its config works
// from any directory Ansible runs in), the user's, then the system's.
func configPaths(getenv func(string) string, exe string) []string {
	var paths []string
	if exe != "" {
		paths = append(paths, filepath.Join(filepath.Dir(exe), "roster-inventory.yaml"))
	}
	if dir := getenv("XDG_CONFIG_HOME"); dir != "" {
		paths = append(paths, filepath.Join(dir, "roster", "inventory.yaml"))
	} else if home := getenv("HOME"); home != "" {
		paths = append(paths, filepath.Join(home, ".config", "roster", "inventory.yaml"))
	}
	return append(paths, "/etc/roster/inventory.yaml")
}

// readConfigFile reads the YAML config file: a mapping of the settings'
// keys to single values.
func readConfigFile(path string, all []setting) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the config file: %w", err)
	}
	var doc map[string]yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	values := make(map[string]string, len(doc))
	for k, n := range doc {
		if !slices.ContainsFunc(all, func(s setting) bool { return s.key == k }) {
			var keys []string
			for _, s := range all {
				keys = append(keys, s.key)
			}
			return nil, fmt.Errorf("config file %s: unknown key %q (known: %s)", path, k, strings.Join(keys, ", "))
		}
		switch {
		case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		case n.Kind == yaml.ScalarNode:
			values[k] = n.Value
		default:
			return nil, fmt.Errorf("config file %s: %s (line %d) must be a single value", path, k, n.Line)
		}
	}
	return values, nil
}

func expandHome(path, home string) string {
	if rest, ok := strings.CutPrefix(path, "~/"); ok && home != "" {
		return filepath.Join(home, rest)
	}
	return path
}

// parseSize reads a byte count: a number of bytes, or one with a unit
// KiB, MiB or GiB (KB, MB and GB are taken as the same).
func parseSize(v string) (int64, error) {
	s := strings.TrimSpace(v)
	mult := int64(1)
units:
	for _, u := range []struct {
		suffixes []string
		mult     int64
	}{{[]string{"KiB", "KB", "K"}, 1 << 10}, {[]string{"MiB", "MB", "M"}, 1 << 20}, {[]string{"GiB", "GB", "G"}, 1 << 30}} {
		for _, suf := range u.suffixes {
			if rest, ok := strings.CutSuffix(s, suf); ok {
				s, mult = strings.TrimSpace(rest), u.mult
				break units
			}
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, errors.New("is not a size such as 512MiB")
	}
	return n * mult, nil
}

// displayURL is a URL as errors show it: without user info, query or
// fragment, which may hold credentials.
func displayURL(raw string) string { return client.DisplayURL(raw) }
