// Package ansibleinv is Roster's Ansible dynamic inventory script: it
// fetches an inventory from the Roster API and prints it the way Ansible's
// script inventory plugin expects (--list, --host NAME). Both
// roster-inventory and `roster inventory` run it.
package ansibleinv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rosterhq/roster"
)

// Config is where to find the inventory.
type Config struct {
	URL             string
	Token           roster.Secret
	TokenFile       string
	Inventory       string
	IncludeDisabled bool
	Timeout         time.Duration
	// MaxAge, when set, asks Roster to sync sources older than this
	// first (rounded up to whole seconds); nil leaves it to the sources'
	// update_cache_timeout.
	MaxAge *time.Duration
}

// Usage is the help text.
const Usage = `Usage: roster-inventory --list | --host NAME

Prints a Roster inventory as Ansible dynamic inventory JSON, e.g.
  ansible-inventory -i roster-inventory --graph

Configuration, from the environment or a YAML file (keys in brackets):
  ROSTER_URL               Roster's base URL [url] (default http://127.0.0.1:8080)
  ROSTER_TOKEN             an API token [token]
  ROSTER_TOKEN_FILE        a file holding the token [token_file]
  ROSTER_INVENTORY         the inventory's name or id [inventory]
  ROSTER_INCLUDE_DISABLED  also list disabled hosts [include_disabled]
  ROSTER_TIMEOUT           request timeout, e.g. 60s [timeout]
  ROSTER_MAX_AGE           sync sources whose data is older first, e.g. 5m [max_age]
  ROSTER_INVENTORY_CONFIG  the YAML file (default: roster-inventory.yaml beside
                           this program, then ~/.config/roster/inventory.yaml)
The environment wins over the file.
`

// LoadConfig reads the config file, if any, then the environment.
func LoadConfig(getenv func(string) string, exe string) (Config, error) {
	c := Config{URL: "http://127.0.0.1:8080", Timeout: 60 * time.Second}
	path, explicit := getenv("ROSTER_INVENTORY_CONFIG"), true
	if path == "" {
		explicit = false
		for _, p := range defaultConfigPaths(getenv, exe) {
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
	}
	if path != "" {
		if err := readConfigFile(path, &c); err != nil && (explicit || !errors.Is(err, os.ErrNotExist)) {
			return c, err
		}
	}
	if v := getenv("ROSTER_URL"); v != "" {
		c.URL = v
	}
	if v := getenv("ROSTER_TOKEN"); v != "" {
		c.Token = roster.Secret(v)
	}
	if v := getenv("ROSTER_TOKEN_FILE"); v != "" {
		c.TokenFile = v
		if getenv("ROSTER_TOKEN") == "" {
			c.Token = "" // the environment's file wins over the config file's token
		}
	}
	if v := getenv("ROSTER_INVENTORY"); v != "" {
		c.Inventory = v
	}
	if v := getenv("ROSTER_INCLUDE_DISABLED"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("ROSTER_INCLUDE_DISABLED=%q is not a boolean", v)
		}
		c.IncludeDisabled = b
	}
	if v := getenv("ROSTER_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("ROSTER_TIMEOUT=%q is not a duration such as 60s", v)
		}
		c.Timeout = d
	}
	if v := getenv("ROSTER_MAX_AGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return c, fmt.Errorf("ROSTER_MAX_AGE=%q is not a duration such as 5m", v)
		}
		c.MaxAge = &d
	}
	if c.Token == "" && c.TokenFile != "" {
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return c, fmt.Errorf("read the token file: %w", err)
		}
		c.Token = roster.Secret(strings.TrimSpace(string(b)))
	}
	switch {
	case c.Inventory == "":
		return c, errors.New("no inventory given: set ROSTER_INVENTORY (or inventory: in the config file)")
	case c.Token == "":
		return c, errors.New("no API token given: set ROSTER_TOKEN or ROSTER_TOKEN_FILE (or token_file: in the config file)")
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("ROSTER_URL=%q is not an http(s) URL", c.URL)
	}
	return c, nil
}

func defaultConfigPaths(getenv func(string) string, exe string) []string {
	var paths []string
	if exe != "" {
		paths = append(paths, filepath.Join(filepath.Dir(exe), "roster-inventory.yaml"))
	}
	if dir := getenv("XDG_CONFIG_HOME"); dir != "" {
		paths = append(paths, filepath.Join(dir, "roster", "inventory.yaml"))
	} else if home := getenv("HOME"); home != "" {
		paths = append(paths, filepath.Join(home, ".config", "roster", "inventory.yaml"))
	}
	return paths
}

func readConfigFile(path string, c *Config) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var f struct {
		URL             string `yaml:"url"`
		Token           string `yaml:"token"`
		TokenFile       string `yaml:"token_file"`
		Inventory       string `yaml:"inventory"`
		IncludeDisabled bool   `yaml:"include_disabled"`
		Timeout         string `yaml:"timeout"`
		MaxAge          string `yaml:"max_age"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	if f.URL != "" {
		c.URL = f.URL
	}
	if f.Token != "" {
		c.Token = roster.Secret(f.Token)
	}
	if f.TokenFile != "" {
		c.TokenFile = f.TokenFile
		if !filepath.IsAbs(f.TokenFile) {
			c.TokenFile = filepath.Join(filepath.Dir(path), f.TokenFile)
		}
	}
	if f.Inventory != "" {
		c.Inventory = f.Inventory
	}
	c.IncludeDisabled = c.IncludeDisabled || f.IncludeDisabled
	if f.Timeout != "" {
		d, err := time.ParseDuration(f.Timeout)
		if err != nil || d <= 0 {
			return fmt.Errorf("config file %s: timeout %q is not a duration such as 60s", path, f.Timeout)
		}
		c.Timeout = d
	}
	if f.MaxAge != "" {
		d, err := time.ParseDuration(f.MaxAge)
		if err != nil || d < 0 {
			return fmt.Errorf("config file %s: max_age %q is not a duration such as 5m", path, f.MaxAge)
		}
		c.MaxAge = &d
	}
	return nil
}

// Main runs the script with args (without the program name) and returns
// its exit code. Every error is one line on stderr.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, exe string) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "roster-inventory: "+format+"\n", a...)
		return 1
	}
	var host string
	switch {
	case len(args) == 1 && args[0] == "--list":
	case len(args) == 2 && args[0] == "--host":
		host = args[1]
	case len(args) == 1 && (args[0] == "--help" || args[0] == "-h"):
		fmt.Fprint(stdout, Usage)
		return 0
	default:
		fmt.Fprint(stderr, Usage)
		return 2
	}
	c, err := LoadConfig(getenv, exe)
	if err != nil {
		return fail("%v", err)
	}
	if err := Fetch(ctx, c, host, stdout); err != nil {
		return fail("%v", err)
	}
	return 0
}

// Fetch writes the inventory (or, with host, one host's vars) to w.
func Fetch(ctx context.Context, c Config, host string, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	base := strings.TrimRight(c.URL, "/")
	q := url.Values{}
	if host != "" {
		q.Set("host", host)
	}
	if c.IncludeDisabled {
		q.Set("all", "true")
	}
	if c.MaxAge != nil {
		q.Set("max_age", strconv.FormatInt(int64((*c.MaxAge+time.Second-1)/time.Second), 10))
	}
	u := base + "/api/v1/inventories/" + url.PathEscape(c.Inventory) + "/ansible"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("bad ROSTER_URL %q: %v", c.URL, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token.Reveal())
	req.Header.Set("Accept", "application/json")
	// The document is large and mostly host vars: on loopback or a LAN,
	// compression costs more CPU than it saves.
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, Proxy: http.ProxyFromEnvironment}}
	resp, err := client.Do(req)
	if err != nil {
		return describeTransportError(c.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return describeHTTPError(resp, c.Inventory, host)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("the inventory was cut short: %v", err)
	}
	return nil
}

func describeTransportError(base string, err error) error {
	var opErr *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("Roster at %s did not answer in time (ROSTER_TIMEOUT)", base)
	case errors.As(err, &opErr):
		return fmt.Errorf("cannot reach Roster at %s: %v", base, opErr.Err)
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return fmt.Errorf("cannot reach Roster at %s: %v", base, urlErr.Err)
	}
	return fmt.Errorf("cannot reach Roster at %s: %v", base, err)
}

func describeHTTPError(resp *http.Response, inventory, host string) error {
	var p struct {
		Detail string `json:"detail"`
		Code   string `json:"code"`
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(body, &p) != nil || p.Detail == "" {
		p.Detail = strings.TrimSpace(string(body))
		if len(p.Detail) > 200 || p.Detail == "" {
			p.Detail = resp.Status
		}
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return fmt.Errorf("the API token was refused: %s", p.Detail)
	case http.StatusForbidden:
		return fmt.Errorf("the API token may not read inventories: %s", p.Detail)
	case http.StatusNotFound:
		if host != "" {
			return fmt.Errorf("%s", p.Detail)
		}
		return fmt.Errorf("inventory %q not found: %s", inventory, p.Detail)
	}
	return fmt.Errorf("Roster answered %s: %s", resp.Status, p.Detail)
}
