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
	// Concurrency bounds the subscriptions fetched at once (Roster's own
	// option; 0 = sources.DefaultScopeConcurrency).
	Concurrency int `json:"concurrency"`

	hostnames []hostnameExpr
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
	"tenant":    credentialReason,
	"tenant_id": credentialReason,
	"client_id": credentialReason,
	"ad_user":   credentialReason,
	"profile":   "credential profiles (~/.azure/credentials) are not read: " + credentialReason,
	"adfs_authority_url": "ADFS authentication is not supported; a custom Microsoft Entra authority is set with " +
		"authority_host",
	"cert_validation_mode": "not supported: TLS certificates are always validated",
	"api_profile":          "not supported: Roster uses the API versions of its Azure SDK",
	"exclude_host_filters": filterReason,
	"include_host_filters": filterReason,
	"default_host_filters": filterReason + "; VMs that are not running are kept disabled, and disabled hosts are left out of the Ansible inventory unless asked for",
	"use_contrib_script_compatible_sanitization": "not supported: group names are sanitised the way ansible-core does; " +
		"use regex_replace in keyed_groups for other spellings",
	"include_arc_resource_groups":   "not supported: Roster syncs Azure virtual machines and scale-set instances only",
	"include_hcivm_resource_groups": "not supported: Roster syncs Azure virtual machines and scale-set instances only",
	"cache":                         cacheReason,
	"cache_plugin":                  cacheReason,
	"cache_timeout":                 cacheReason,
	"cache_connection":              cacheReason,
	"cache_prefix":                  cacheReason,
	"batch_fetch_interval":          "not supported: Roster does not use the batch API (see batch_fetch)",
	"batch_fetch_timeout":           "not supported: Roster does not use the batch API (see batch_fetch)",
}

const (
	credentialReason = "the service principal is not part of a source's configuration: it comes from the credential " +
		"broker or, until a credential is attached, from AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET"
	filterReason = "not supported: a provider does not filter hosts; every VM is synced, and groups, compose and " +
		"keyed_groups select them"
	cacheReason = "not supported: Roster stores the inventory and serves it from its database; schedule syncs instead"
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
	var errs roster.FieldErrors
	errs.Merge("", sources.RejectSecrets(config, secretOptions...))
	for _, n := range secretOptions {
		delete(config, n)
	}
	for _, name := range slices.Sorted(maps.Keys(refused)) {
		if _, ok := config[name]; ok {
			errs.Add(name, "%s", refused[name])
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
	var o Options
	if !errs.Merge("", sources.Decode(config, &o)) {
		return nil, errs.Err()
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
	if o.Concurrency < 0 || o.Concurrency > 64 {
		errs.Add("concurrency", "must be between 1 and 64 (0 for the default, %d)", sources.DefaultScopeConcurrency)
	}
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

// hostnameVar is the compose name a hostnames expression is compiled as.
const hostnameVar = "inventory_hostname"
