package azure

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/construct"
)

// Options are the azure_rm plugin's options that Roster supports, with the
// plugin's names and meanings, and Roster's own (subscriptions,
// include_vmss, authority_host, arm_endpoint, concurrency).
type Options struct {
	// Subscriptions to list VMs in (the plugin's subscription_id, which
	// takes one); empty = AZURE_SUBSCRIPTION_ID. Each is a scope.
	Subscriptions sources.StringList `json:"subscriptions"`
	// IncludeVMResourceGroups: resource groups to list VMs in; "*" (the
	// default) = every group of the subscription.
	IncludeVMResourceGroups sources.StringList `json:"include_vm_resource_groups"`
	// IncludeVMSS adds the instances of uniform scale sets (flexible ones'
	// VMs are ordinary VMs and always listed). Default: true when
	// include_vmss_resource_groups is set, else false.
	IncludeVMSS *bool `json:"include_vmss"`
	// IncludeVMSSResourceGroups: resource groups to list scale sets in;
	// "*" = every group. Empty with include_vmss = every group.
	IncludeVMSSResourceGroups sources.StringList `json:"include_vmss_resource_groups"`
	// Hostnames are Jinja2 expressions over the host vars, in order of
	// preference; "default" is default_inventory_hostname.
	Hostnames sources.StringList `json:"hostnames"`
	// PlainHostNames makes default_inventory_hostname the VM name, without
	// the plugin's hash suffix.
	PlainHostNames bool `json:"plain_host_names"`
	// CloudEnvironment names the Azure cloud: AzureCloud (default),
	// AzureChinaCloud or AzureUSGovernment.
	CloudEnvironment string `json:"cloud_environment"`
	// AuthorityHost overrides the Microsoft Entra authority host (an https
	// URL), e.g. a simulator's.
	AuthorityHost string `json:"authority_host"`
	// ARMEndpoint overrides the Resource Manager endpoint (an https URL).
	ARMEndpoint string `json:"arm_endpoint"`
	// AuthSource may only be auto or env: credentials come from the
	// credential broker or the environment.
	AuthSource string `json:"auth_source"`
	// BatchFetch is accepted for pasted plugin files and has no effect:
	// Roster lists whole subscriptions or resource groups instead of
	// batching per-VM requests.
	BatchFetch *bool `json:"batch_fetch"`
	// ExcludeHostFilters leave out a VM when any of these Jinja2
	// conditionals over its host vars is true; DefaultHostFilters are more
	// of them, applied only when given (the plugin's default, which drops
	// VMs not running or not provisioned, is Roster's disabled host).
	ExcludeHostFilters []any  `json:"exclude_host_filters"`
	DefaultHostFilters *[]any `json:"default_host_filters"`
	// IncludeHostFilters, when given, keep only the VMs for which one of
	// these conditionals is true (an empty list keeps none, as in the
	// plugin).
	IncludeHostFilters *[]any `json:"include_host_filters"`
	// UseContribScriptCompatibleSanitization has no effect: group names
	// are sanitised once, by the construct step, the way ansible-core does.
	UseContribScriptCompatibleSanitization bool `json:"use_contrib_script_compatible_sanitization"`
	// Concurrency bounds the subscriptions fetched at once (Roster's own
	// option; 0 = sources.DefaultScopeConcurrency).
	Concurrency int `json:"concurrency"`

	sources.NoEffects // options given that have no effect, and why

	hostnames []hostnameExpr
	exclude   []hostFilter // exclude_host_filters, then default_host_filters
	include   []hostFilter // nil: every VM
	allVMRGs  bool
	vmss      bool
	allVMSSRG bool
}

// constructAliases maps the azure_rm plugin's names of constructed options
// to the construct step's. The registry must rename them before it splits
// a source's configuration (see Driver.ConstructAliases).
var constructAliases = map[string]string{
	"conditional_groups":      "groups",
	"hostvar_expressions":     "compose",
	"fail_on_template_errors": "strict",
}

var aliases = map[string]string{
	"subscription_id":           "subscriptions",
	"endpoint_url":              "arm_endpoint",
	"resource_manager_endpoint": "arm_endpoint",
}

var secretOptions = []string{
	"secret", "client_secret", "azure_secret", "azure_client_secret",
	"password", "ad_password", "azure_password", "access_token", "token",
	"client_certificate_password", "certificate_password",
}

// refused are plugin options Roster does not support, with the reason.
var refused = map[string]string{
	"include_arc_resource_groups":   "not supported: Roster syncs Azure virtual machines and scale-set instances only",
	"include_hcivm_resource_groups": "not supported: Roster syncs Azure virtual machines and scale-set instances only",
}

// inert are plugin options Roster accepts and does not act on, with the
// reason; each one given is a warning.
var inert = map[string]string{
	"tenant":               credentialReason,
	"tenant_id":            credentialReason,
	"client_id":            credentialReason,
	"ad_user":              credentialReason,
	"profile":              "credential profiles (~/.azure/credentials) are not read: " + credentialReason,
	"adfs_authority_url":   "ADFS authentication is not supported; a custom Microsoft Entra authority is set with authority_host",
	"cert_validation_mode": "TLS certificates are always validated",
	"api_profile":          "Roster uses the API versions of its Azure SDK",
	"batch_fetch_interval": "Roster does not use the batch API (see batch_fetch)",
	// A certificate's key on the server's disk is no place for a
	// source's secret: the service principal comes from its credential.
	"x509_certificate_path": "certificate files are not read: " + credentialReason,
	"thumbprint":            "certificate files are not read: " + credentialReason,
	"log_mode":              "Roster logs the sync on its own log (--log-level debug); it writes no Azure SDK log",
	"log_path":              "Roster logs the sync on its own log (--log-level debug); it writes no Azure SDK log",
	"batch_fetch_timeout":   "Roster does not use the batch API (see batch_fetch)",
}

const (
	credentialReason = "the service principal is not part of a source's configuration: it comes from the source's " +
		"credential or, without one, from AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET"
)

var (
	subscriptionPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$`)
	// resourceGroupPattern is Azure's rule: 1-90 letters, digits,
	// underscores, hyphens, periods and parentheses, not ending in a
	// period.
	resourceGroupPattern = regexp.MustCompile(`^[\p{L}\p{N}_\-.()]{1,90}$`)
)

// clouds are the cloud_environment names the plugin accepts, by
// lower-case name.
var clouds = map[string]string{
	"azurecloud":        "AzureCloud",
	"azurepubliccloud":  "AzureCloud",
	"azurechinacloud":   "AzureChinaCloud",
	"azureusgovernment": "AzureUSGovernment",
}

// parseOptions normalises and decodes config, then checks every option,
// collecting all field errors.
func parseOptions(config map[string]any) (*Options, error) {
	config = maps.Clone(config)
	var o Options
	var errs roster.FieldErrors
	errs.Merge("", sources.RejectSecrets(config, secretOptions...))
	for _, name := range slices.Sorted(maps.Keys(refused)) {
		if _, ok := config[name]; ok {
			errs.Add(name, "%s", refused[name])
			delete(config, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(inert)) {
		if _, ok := config[name]; ok {
			o.Warn(name, inert[name])
			delete(config, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(constructAliases)) {
		if _, ok := config[name]; ok {
			errs.Add(name, "the azure_rm plugin's name for the constructed option %q; give it as %q", constructAliases[name], constructAliases[name])
			delete(config, name)
		}
	}
	errs.Merge("", sources.Aliases(config, aliases))
	if !errs.Merge("", sources.Decode(config, &o)) {
		return nil, errs.Err()
	}
	if o.UseContribScriptCompatibleSanitization {
		o.Warn("use_contrib_script_compatible_sanitization", sources.SanitizationReason)
	}
	o.exclude = compileFilters(&errs, "exclude_host_filters", o.ExcludeHostFilters)
	if o.DefaultHostFilters != nil {
		o.exclude = append(o.exclude, compileFilters(&errs, "default_host_filters", *o.DefaultHostFilters)...)
	}
	if o.IncludeHostFilters != nil {
		o.include = compileFilters(&errs, "include_host_filters", *o.IncludeHostFilters)
		if o.include == nil {
			o.include = []hostFilter{}
		}
	}

	seen := map[string]bool{}
	for i, s := range o.Subscriptions {
		field := fmt.Sprintf("subscriptions[%d]", i)
		switch {
		case !subscriptionPattern.MatchString(s):
			errs.Add(field, "%q is not a subscription id (a GUID like 00000000-0000-0000-0000-000000000000)", s)
		case seen[strings.ToLower(s)]:
			errs.Add(field, "subscription %q is listed twice", s)
		}
		seen[strings.ToLower(s)] = true
	}
	o.allVMRGs = checkGroups(&errs, "include_vm_resource_groups", o.IncludeVMResourceGroups) || len(o.IncludeVMResourceGroups) == 0
	o.allVMSSRG = checkGroups(&errs, "include_vmss_resource_groups", o.IncludeVMSSResourceGroups) || len(o.IncludeVMSSResourceGroups) == 0
	switch {
	case o.IncludeVMSS == nil:
		o.vmss = len(o.IncludeVMSSResourceGroups) > 0
	case !*o.IncludeVMSS && len(o.IncludeVMSSResourceGroups) > 0:
		errs.Add("include_vmss", "false contradicts include_vmss_resource_groups; drop one of them")
	default:
		o.vmss = *o.IncludeVMSS
	}
	if len(o.Hostnames) == 0 {
		o.Hostnames = sources.StringList{"default"}
	}
	for i, h := range o.Hostnames {
		expr, msg := compileHostname(h)
		if msg != "" {
			errs.Add(fmt.Sprintf("hostnames[%d]", i), "%s", msg)
			continue
		}
		o.hostnames = append(o.hostnames, expr)
	}
	if o.CloudEnvironment != "" {
		name, ok := clouds[strings.ToLower(o.CloudEnvironment)]
		switch {
		case ok:
			o.CloudEnvironment = name
		case strings.Contains(o.CloudEnvironment, "://"):
			errs.Add("cloud_environment", "metadata discovery URLs are not supported; set authority_host and arm_endpoint")
		default:
			errs.Add("cloud_environment", "unknown cloud %q; use AzureCloud, AzureChinaCloud or AzureUSGovernment", o.CloudEnvironment)
		}
	}
	checkHTTPS(&errs, "authority_host", o.AuthorityHost)
	checkHTTPS(&errs, "arm_endpoint", o.ARMEndpoint)
	switch strings.ToLower(o.AuthSource) {
	case "", "auto", "env":
	default:
		errs.Add("auth_source", "%q is not supported: %s", o.AuthSource, credentialReason)
	}
	sources.CheckConcurrency(&errs, o.Concurrency)
	return &o, errs.Err()
}

// checkGroups validates a resource group list and reports whether it is
// the wildcard "*".
func checkGroups(errs *roster.FieldErrors, field string, groups []string) bool {
	all := false
	seen := map[string]bool{}
	for i, g := range groups {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case g == "*":
			all = true
		case !resourceGroupPattern.MatchString(g) || strings.HasSuffix(g, "."):
			errs.Add(f, "%q is not a resource group name (1-90 letters, digits, _ - . ( ), not ending in a period) or \"*\"", g)
		case seen[strings.ToLower(g)]:
			errs.Add(f, "resource group %q is listed twice", g)
		}
		seen[strings.ToLower(g)] = true
	}
	if all && len(groups) > 1 {
		errs.Add(field, "\"*\" already includes every resource group; give \"*\" alone or only names")
	}
	return all
}

func checkHTTPS(errs *roster.FieldErrors, field, v string) {
	if v == "" {
		return
	}
	u, err := url.Parse(v)
	switch {
	case err != nil || u.Scheme != "https" || u.Host == "":
		errs.Add(field, "must be an https URL (the Azure SDK sends credentials over TLS only)")
	case u.User != nil:
		errs.Add(field, "must not contain credentials")
	case u.RawQuery != "" || u.Fragment != "":
		errs.Add(field, "must not have a query or fragment")
	}
}

// hostnameExpr is one hostnames preference: the default name, or a
// compiled Jinja2 expression.
type hostnameExpr struct {
	src  string
	expr *construct.Constructor // nil for "default"
}

// compileHostname compiles one hostnames entry with the construct step's
// Jinja2 engine; it returns a message for a broken expression.
func compileHostname(src string) (hostnameExpr, string) {
	if strings.TrimSpace(src) == "" {
		return hostnameExpr{}, "must be a Jinja2 expression or \"default\", not empty"
	}
	if src == "default" {
		return hostnameExpr{src: src}, ""
	}
	c, err := construct.Parse(map[string]any{"compose": map[string]any{hostnameVar: src}})
	if err != nil {
		msgs := make([]string, 0, 1)
		for _, f := range roster.ErrorFields(err) {
			msgs = append(msgs, f.Message)
		}
		if len(msgs) == 0 {
			msgs = append(msgs, err.Error())
		}
		return hostnameExpr{}, strings.Join(msgs, "; ")
	}
	return hostnameExpr{src: src, expr: c}, ""
}

// hostFilter is one exclude/include/default_host_filters entry: a Jinja2
// conditional over the host vars, compiled by the construct step as a
// group condition (the plugin's "{% if cond %}true{% else %}false{% endif %}").
type hostFilter struct {
	cond *construct.Constructor
}

// filterGroup is the group a filter's conditional puts a matching host in.
const filterGroup = "match"

func compileFilters(errs *roster.FieldErrors, field string, list []any) []hostFilter {
	var out []hostFilter
	for i, src := range list {
		if s, ok := src.(string); ok && strings.TrimSpace(s) == "" {
			errs.Add(fmt.Sprintf("%s[%d]", field, i), "must be a Jinja2 conditional, not empty")
			continue
		}
		c, err := construct.Parse(map[string]any{"groups": map[string]any{filterGroup: src}, "strict": true})
		if err != nil {
			var msgs []string
			for _, f := range roster.ErrorFields(err) {
				msgs = append(msgs, f.Message)
			}
			if len(msgs) == 0 {
				msgs = append(msgs, err.Error())
			}
			errs.Add(fmt.Sprintf("%s[%d]", field, i), "%s", strings.Join(msgs, "; "))
			continue
		}
		out = append(out, hostFilter{cond: c})
	}
	return out
}

// matches reports whether the conditional is true for vars; one that
// fails to evaluate is false, as in the plugin with
// fail_on_template_errors false.
func (f hostFilter) matches(vars map[string]any) bool {
	res, err := f.cond.Apply(vars)
	return err == nil && len(res.Groups) > 0
}

// keep applies the host filters to a VM's host vars as the plugin does:
// out when an exclude (or default) filter matches; with include filters,
// in only when one of them matches.
func (o *Options) keep(vars map[string]any) bool {
	for _, f := range o.exclude {
		if f.matches(vars) {
			return false
		}
	}
	if o.include == nil {
		return true
	}
	for _, f := range o.include {
		if f.matches(vars) {
			return true
		}
	}
	return false
}

// hostnameVar is the compose name a hostnames expression is compiled as.
const hostnameVar = "inventory_hostname"
