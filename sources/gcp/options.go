package gcp

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources"
)

// Options are the gcp_compute plugin's options that Roster supports, with
// the plugin's names and meanings.
type Options struct {
	// Projects to list instances in; each is a scope, fetched concurrently.
	Projects sources.StringList `json:"projects"`
	// Zones, when set, restricts the listing to these zones (one
	// instances.list per zone instead of the aggregated list).
	Zones sources.StringList `json:"zones"`
	// Filters are Compute API list filter expressions, ANDed.
	Filters sources.StringList `json:"filters"`
	// Hostnames is the preference list for a host's inventory name:
	// public_ip, private_ip, name, hostname, labels.KEY.
	Hostnames sources.StringList `json:"hostnames"`
	// NameSuffix is appended to the name (and to the hostname fallback).
	NameSuffix string `json:"name_suffix"`
	// VarsPrefix is prepended to every host var name.
	VarsPrefix string `json:"vars_prefix"`
	// AuthKind is the plugin's credential type. Only service-account
	// credentials are supported ("serviceaccount", or "application" for
	// the key file GOOGLE_APPLICATION_CREDENTIALS names).
	AuthKind string `json:"auth_kind"`
	// Scopes are the OAuth2 scopes the access token is requested for.
	Scopes sources.StringList `json:"scopes"`
	// RetrieveImageInfo sets the image host var to the boot disk's source
	// image (one disks.aggregatedList per project).
	RetrieveImageInfo bool `json:"retrieve_image_info"`
	// UseContribScriptCompatibleSanitization has no effect: group names
	// are sanitised once, by the construct step, the way ansible-core does.
	UseContribScriptCompatibleSanitization bool `json:"use_contrib_script_compatible_sanitization"`
	// ServiceAccountFile has no effect: a source does not name key files
	// on the server; the key comes from the credential broker.
	ServiceAccountFile string `json:"service_account_file"`
	// ServiceAccountEmail has no effect: it only serves the machineaccount
	// kind, which is not supported.
	ServiceAccountEmail string `json:"service_account_email"`
	// Folders would need the Resource Manager API; not supported.
	Folders sources.StringList `json:"folders"`

	// EndpointURL overrides the Compute API endpoint (simulators, Private
	// Service Connect), Roster's own option.
	EndpointURL string `json:"endpoint_url"`
	// TokenURI overrides the OAuth2 token endpoint the service account's
	// JWT is exchanged at (else the key file's token_uri), Roster's own.
	TokenURI string `json:"token_uri"`
	// Concurrency bounds the projects fetched at once (Roster's own).
	Concurrency int `json:"concurrency"`

	// NoEffects says which options given have no effect, and why.
	sources.NoEffects
}

var aliases = map[string]string{
	"endpoint":  "endpoint_url",
	"token_url": "token_uri",
}

// secretOptions would put credentials into a source's stored config.
var secretOptions = []string{"service_account_contents", "access_token", "private_key", "credentials_json"}

// defaultHostnames is the plugin's default preference list.
var defaultHostnames = []string{"public_ip", "private_ip", "name"}

// defaultScopes is the plugin's default.
var defaultScopes = []string{"https://www.googleapis.com/auth/compute"}

var (
	// projectPattern: 6-30 lower-case letters, digits and dashes, starting
	// with a letter, not ending with a dash; optionally domain-scoped
	// (example.com:my-project).
	projectPattern = regexp.MustCompile(`^([a-z0-9][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	// zonePattern: region (area, direction and a number without a leading
	// zero) and a zone letter, like us-central1-a or europe-west10-b.
	zonePattern  = regexp.MustCompile(`^[a-z]+-[a-z]+[1-9][0-9]?-[a-z]$`)
	scopePattern = regexp.MustCompile(`^https://www\.googleapis\.com/auth/[a-z0-9._-]+$`)
	labelKey     = regexp.MustCompile(`^[\p{Ll}\p{Lo}0-9_-]{1,63}$`)
)

var hostnameKinds = []string{"public_ip", "private_ip", "name", "hostname", "labels.KEY"}

// parseOptions normalises and decodes config, then checks every option,
// collecting all field errors.
func parseOptions(config map[string]any) (*Options, error) {
	var o Options
	errs, decoded := sources.DecodeOptions(config, &o, secretOptions, aliases)
	if !decoded {
		return nil, errs.Err()
	}
	if len(o.Projects) == 0 {
		errs.Add("projects", "at least one project is required")
	}
	for i, p := range o.Projects {
		if !projectPattern.MatchString(p) {
			errs.Add(fmt.Sprintf("projects[%d]", i), "%q is not a project id (6-30 lower-case letters, digits and dashes, starting with a letter, like my-project-123)", p)
		}
	}
	if dup := sources.FirstDuplicate(o.Projects); dup != "" {
		errs.Add("projects", "project %q is listed twice", dup)
	}
	for i, z := range o.Zones {
		if !zonePattern.MatchString(z) {
			errs.Add(fmt.Sprintf("zones[%d]", i), "%q is not a zone name (like us-central1-a)", z)
		}
	}
	if dup := sources.FirstDuplicate(o.Zones); dup != "" {
		errs.Add("zones", "zone %q is listed twice", dup)
	}
	for i, f := range o.Filters {
		if msg := checkFilter(f); msg != "" {
			errs.Add(fmt.Sprintf("filters[%d]", i), "%s", msg)
		}
	}
	for i, h := range o.Hostnames {
		if msg := checkHostname(h); msg != "" {
			errs.Add(fmt.Sprintf("hostnames[%d]", i), "%s", msg)
		}
	}
	switch o.AuthKind {
	case "", "serviceaccount", "application":
	case "machineaccount", "accesstoken":
		errs.Add("auth_kind", "%q is not supported: Roster authenticates with a service account key (from the credential broker, or the file GOOGLE_APPLICATION_CREDENTIALS names)", o.AuthKind)
	default:
		errs.Add("auth_kind", "must be serviceaccount or application, not %q", o.AuthKind)
	}
	if o.ServiceAccountFile != "" {
		o.Warn("service_account_file", "a source does not name files on the server; Roster reads the service account key from the source's credential or, without one, the file GOOGLE_APPLICATION_CREDENTIALS names")
	}
	if o.ServiceAccountEmail != "" {
		o.Warn("service_account_email", "it only serves auth_kind machineaccount, which Roster does not support")
	}
	if len(o.Folders) > 0 {
		errs.Add("folders", "not supported yet: list the projects in projects")
	}
	for i, s := range o.Scopes {
		if !scopePattern.MatchString(s) {
			errs.Add(fmt.Sprintf("scopes[%d]", i), "%q is not an OAuth scope URL (like https://www.googleapis.com/auth/compute.readonly)", s)
		}
	}
	if o.UseContribScriptCompatibleSanitization {
		o.Warn("use_contrib_script_compatible_sanitization", sources.SanitizationReason)
	}
	checkEndpoint(&errs, "endpoint_url", o.EndpointURL)
	checkEndpoint(&errs, "token_uri", o.TokenURI)
	sources.CheckConcurrency(&errs, o.Concurrency)
	if len(o.Hostnames) == 0 {
		o.Hostnames = defaultHostnames
	}
	if len(o.Scopes) == 0 {
		o.Scopes = defaultScopes
	}
	return &o, errs.Err()
}

// checkEndpoint accepts an https URL, or a plain http one on a loopback
// address (a simulator): an access token must not cross a network in the
// clear.
func checkEndpoint(errs *roster.FieldErrors, field, raw string) {
	if raw == "" {
		return
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		errs.Add(field, "must be an http or https URL")
	case u.User != nil:
		errs.Add(field, "must not contain credentials")
	case u.RawQuery != "" || u.Fragment != "":
		errs.Add(field, "must not have a query or fragment")
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		errs.Add(field, "plain http is only allowed to a loopback address (a simulator); use https")
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkHostname(h string) string {
	if k, ok := strings.CutPrefix(h, "labels."); ok {
		if !labelKey.MatchString(k) {
			return fmt.Sprintf("%q: labels. needs a label key (lower-case letters, digits, _ and -), as in labels.vm_name", h)
		}
		return ""
	}
	if slices.Contains(hostnameKinds[:4], h) {
		return ""
	}
	return fmt.Sprintf("unknown hostname preference %q; use one of %s", h, strings.Join(hostnameKinds, ", "))
}

// checkFilter catches what would only fail at the API: an empty filter,
// unbalanced parentheses or quotes.
func checkFilter(f string) string {
	if strings.TrimSpace(f) == "" {
		return "a filter must not be empty"
	}
	if len(f) > 4096 {
		return "a filter must not be longer than 4096 characters"
	}
	depth, quote, ok := scanParens(f, func(_, depth int) bool { return depth >= 0 })
	if !ok {
		return fmt.Sprintf("%q has a ) without its (", f)
	}
	if quote != 0 {
		return fmt.Sprintf("%q has an unterminated quoted string", f)
	}
	if depth != 0 {
		return fmt.Sprintf("%q has a ( without its )", f)
	}
	return ""
}

// query is the plugin's combination of filters: one is sent as it is;
// several are each put in parentheses (unless one already is a single
// parenthesised expression) and joined by spaces, which the API ANDs.
func query(filters []string) string {
	switch len(filters) {
	case 0:
		return ""
	case 1:
		return strings.TrimSpace(filters[0])
	}
	parts := make([]string, len(filters))
	for i, f := range filters {
		f = strings.TrimSpace(f)
		if !wrapped(f) {
			f = "(" + f + ")"
		}
		parts[i] = f
	}
	return strings.Join(parts, " ")
}

// wrapped reports whether f is one parenthesised expression: its opening
// parenthesis closes at its last character.
func wrapped(f string) bool {
	if len(f) < 2 || f[0] != '(' || f[len(f)-1] != ')' {
		return false
	}
	_, _, ok := scanParens(f, func(i, depth int) bool { return depth > 0 || i == len(f)-1 })
	return ok
}

// scanParens walks f's parentheses outside quoted strings (which escape
// with a backslash): at each ) it calls closed with its index and the
// depth left, and stops when closed returns false (ok is then false). It
// returns the depth at the end and the quote left open there (0: none).
func scanParens(f string, closed func(i, depth int) bool) (depth int, quote byte, ok bool) {
	for i := 0; i < len(f); i++ {
		c := f[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
			if !closed(i, depth) {
				return depth, quote, false
			}
		}
	}
	return depth, quote, true
}
