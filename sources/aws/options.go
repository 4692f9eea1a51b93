package aws

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources"
)

// Options are the aws_ec2 plugin's options that Roster supports, with the
// plugin's names and meanings.
type Options struct {
	// Regions to list instances in; empty means every region
	// DescribeRegions returns.
	Regions sources.StringList `json:"regions"`
	// Filters are DescribeInstances filters (name → value or values).
	Filters Filters `json:"filters"`
	// IncludeFilters: an instance matching any entry is included (each
	// entry is one more DescribeInstances query, ORed with Filters).
	IncludeFilters []Filters `json:"include_filters"`
	// ExcludeFilters: an instance matching any entry is left out; they win
	// over Filters and IncludeFilters.
	ExcludeFilters []Filters `json:"exclude_filters"`
	// Hostnames is the preference list for a host's inventory name.
	Hostnames []Hostname `json:"hostnames"`
	// IAMRoleARN is a role to assume (through STS) for the lookup.
	IAMRoleARN string `json:"iam_role_arn"`
	// AssumeRoleARNs is the plugin's list of roles whose inventories are
	// merged; Roster takes one (as iam_role_arn): one source per role.
	AssumeRoleARNs sources.StringList `json:"assume_role_arns"`
	// Region is where region-less calls go (DescribeRegions, STS):
	// us-east-1 when empty; set it for GovCloud or China accounts.
	Region string `json:"region"`
	// Profile names a profile of the shared AWS config files.
	Profile string `json:"profile"`
	// EndpointURL overrides the EC2 and STS endpoints (simulators,
	// private endpoints).
	EndpointURL string `json:"endpoint_url"`
	// StrictPermissions false has no effect: a region answering 403 fails
	// as a scope and keeps its hosts, it is never read as empty.
	StrictPermissions *bool `json:"strict_permissions"`
	// HostvarsPrefix and HostvarsSuffix wrap every host var name (after
	// compose, groups and keyed_groups, which see the plain names).
	HostvarsPrefix string `json:"hostvars_prefix"`
	HostvarsSuffix string `json:"hostvars_suffix"`
	// UseContribScriptCompatibleEC2TagKeys adds an ec2_tag_KEY var per tag,
	// like the old ec2.py script.
	UseContribScriptCompatibleEC2TagKeys bool `json:"use_contrib_script_compatible_ec2_tag_keys"`
	// UseContribScriptCompatibleSanitization has no effect: group names
	// are sanitised once, by the construct step, the way ansible-core does.
	UseContribScriptCompatibleSanitization bool `json:"use_contrib_script_compatible_sanitization"`
	// AllowDuplicatedHosts true has no effect: an instance is one host.
	AllowDuplicatedHosts bool `json:"allow_duplicated_hosts"`
	// IncludeExtraAPICalls true has no effect (the persistent and events
	// vars of amazon.aws 1.x are not fetched).
	IncludeExtraAPICalls bool `json:"include_extra_api_calls"`
	// UseSSMInventory true has no effect: SSM inventory is not fetched.
	UseSSMInventory bool `json:"use_ssm_inventory"`
	// Concurrency bounds the regions fetched at once (Roster's own option).
	Concurrency int `json:"concurrency"`

	// NoEffects says which options given have no effect, and why.
	sources.NoEffects
}

var aliases = map[string]string{
	"aws_profile":      "profile",
	"boto_profile":     "profile",
	"assume_role_arn":  "iam_role_arn",
	"iam_role_arns":    "assume_role_arns",
	"aws_region":       "region",
	"ec2_region":       "region",
	"aws_endpoint_url": "endpoint_url",
	"endpoint":         "endpoint_url",
}

var secretOptions = []string{
	"access_key", "aws_access_key", "aws_access_key_id", "ec2_access_key",
	"secret_key", "aws_secret_key", "aws_secret_access_key", "ec2_secret_key",
	"session_token", "aws_session_token", "aws_security_token", "security_token", "ec2_security_token",
}

// Filters maps a DescribeInstances filter name to one value or a list.
type Filters map[string]sources.StringList

// Hostname is one entry of the hostnames preference list: a preference
// ("dns-name", "tag:Name", "tag:Name=web,Env=prod", ...) or, in the dict
// form, a preference joined to a prefix preference with a separator.
type Hostname struct {
	Name      string `json:"name"`
	Prefix    string `json:"prefix,omitempty"`
	Separator string `json:"separator,omitempty"`
}

// UnmarshalJSON accepts a string or {name, prefix, separator}.
func (h *Hostname) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*h = Hostname{Name: s}
		return nil
	}
	type plain Hostname
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if p.Separator == "" {
		p.Separator = "_"
	}
	*h = Hostname(p)
	return nil
}

// defaultHostnames is the plugin's default preference list.
var defaultHostnames = []Hostname{{Name: "dns-name"}, {Name: "private-dns-name"}}

// regionPattern is an AWS region name: a two-letter area, words, and a
// number without a leading zero (us-east-1, us-gov-west-1, ap-southeast-4).
var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[1-9][0-9]?$`)

// filterNamePattern is what EC2 filter names look like: lower-case words
// with dots and dashes, or tag:KEY with any key.
var filterNamePattern = regexp.MustCompile(`^([a-z0-9][a-z0-9.-]*|tag:.+)$`)

// parseOptions normalises and decodes config, then checks every option,
// collecting all field errors.
func parseOptions(config map[string]any) (*Options, error) {
	var o Options
	errs, decoded := sources.DecodeOptions(config, &o, secretOptions, aliases)
	if !decoded {
		return nil, errs.Err()
	}
	for i, r := range o.Regions {
		if !regionPattern.MatchString(r) {
			errs.Add(fmt.Sprintf("regions[%d]", i), "%q is not an AWS region name (like us-east-1)", r)
		}
	}
	if dup := sources.FirstDuplicate(o.Regions); dup != "" {
		errs.Add("regions", "region %q is listed twice", dup)
	}
	checkFilters(&errs, "filters", o.Filters)
	for i, f := range o.IncludeFilters {
		checkFilters(&errs, fmt.Sprintf("include_filters[%d]", i), f)
	}
	for i, f := range o.ExcludeFilters {
		checkFilters(&errs, fmt.Sprintf("exclude_filters[%d]", i), f)
	}
	for i, h := range o.Hostnames {
		field := fmt.Sprintf("hostnames[%d]", i)
		if h.Name == "" {
			errs.Add(field+".name", "a hostnames entry needs a name")
			continue
		}
		if err := checkPreference(h.Name); err != "" {
			errs.Add(field, "%s", err)
		}
		if h.Prefix != "" {
			if err := checkPreference(h.Prefix); err != "" {
				errs.Add(field+".prefix", "%s", err)
			}
		}
	}
	if o.EndpointURL != "" {
		if u, err := url.Parse(o.EndpointURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs.Add("endpoint_url", "must be an http or https URL")
		} else if u.User != nil {
			errs.Add("endpoint_url", "must not contain credentials")
		}
	}
	if o.Region != "" && !regionPattern.MatchString(o.Region) {
		errs.Add("region", "%q is not an AWS region name (like us-east-1)", o.Region)
	}
	switch n := len(o.AssumeRoleARNs); {
	case n > 0 && o.IAMRoleARN != "":
		errs.Add("assume_role_arns", "conflicts with iam_role_arn; give one of them")
	case n > 1:
		errs.Add("assume_role_arns", "a source assumes one role: create a source per role (they can share an inventory)")
	case n == 1:
		o.IAMRoleARN = o.AssumeRoleARNs[0]
	}
	if o.IAMRoleARN != "" && !strings.HasPrefix(o.IAMRoleARN, "arn:") {
		errs.Add("iam_role_arn", "must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")
	}
	if o.StrictPermissions != nil && !*o.StrictPermissions {
		o.Warn("strict_permissions", "a region answering 403 (Forbidden) fails, keeps its stored hosts and marks the run partial; it is never read as empty")
	}
	if o.UseContribScriptCompatibleSanitization {
		o.Warn("use_contrib_script_compatible_sanitization", sources.SanitizationReason)
	}
	if o.IncludeExtraAPICalls {
		o.Warn("include_extra_api_calls", "Roster makes no per-instance calls; hosts have no persistent or events vars")
	}
	if o.UseSSMInventory {
		o.Warn("use_ssm_inventory", "Systems Manager inventory is not fetched; hosts have no ssm_inventory var")
	}
	sources.CheckConcurrency(&errs, o.Concurrency)
	if len(o.Hostnames) == 0 {
		o.Hostnames = defaultHostnames
	}
	return &o, errs.Err()
}

func checkFilters(errs *roster.FieldErrors, field string, f Filters) {
	for _, name := range sortedKeys(f) {
		if !filterNamePattern.MatchString(name) {
			errs.Add(field+"."+name, "%q is not an EC2 filter name", name)
		}
		if len(f[name]) == 0 {
			errs.Add(field+"."+name, "needs at least one value")
		}
	}
}

// checkPreference accepts tag:KEY[=VALUE], an instance attribute, or any
// other text, which the plugin uses as a literal name; but text that is an
// attribute name misspelt (dns_name for dns-name) is refused with the
// attribute it is close to.
func checkPreference(p string) string {
	if strings.Contains(p, "|") {
		return fmt.Sprintf("%q: Jinja2 filters in hostnames (amazon.aws 9.2) are not supported yet; name hosts by the plain preference and shape names with compose or keyed_groups", p)
	}
	if strings.HasPrefix(p, "tag:") {
		if len(p) == len("tag:") {
			return "tag: needs a tag key, as in tag:Name"
		}
		return ""
	}
	if _, ok := hostnameAttrs[p]; ok {
		return ""
	}
	if s := sources.Suggest(p, sortedKeys(hostnameAttrs)); s != "" {
		return fmt.Sprintf("unknown hostname preference %q; did you mean %q? (other text is a literal name, as in the plugin)", p, s)
	}
	if strings.TrimSpace(p) == "" {
		return "a hostname preference must not be empty"
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
