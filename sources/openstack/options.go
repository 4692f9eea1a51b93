package openstack

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources"
)

// Options are the openstack.cloud.openstack plugin's options that Roster
// supports, with the plugin's names and meanings, and Roster's own
// (clouds, auth, cloud, regions, projects, concurrency).
type Options struct {
	// Clouds are clouds.yaml entries (name → settings) pasted into the
	// source, without their secrets. Parsed by parseClouds.
	Clouds any `json:"clouds"`
	// Auth, AuthType, RegionName and Interface describe one more cloud
	// inline, named Cloud ("openstack" when empty), as the openstack.cloud
	// modules' parameters do.
	Auth       any    `json:"auth"`
	AuthType   string `json:"auth_type"`
	RegionName string `json:"region_name"`
	Interface  string `json:"interface"`
	Cloud      string `json:"cloud"`
	// OnlyClouds limits the clouds synced to these names.
	OnlyClouds sources.StringList `json:"only_clouds"`
	// CloudsYAMLPath lists clouds.yaml files searched first; the first
	// that exists is read at sync time (it may hold secrets: it stays on
	// disk).
	CloudsYAMLPath sources.StringList `json:"clouds_yaml_path"`
	// Regions overrides every cloud's regions; empty = the cloud's
	// regions / region_name, else every region of its catalog with a
	// compute endpoint.
	Regions sources.StringList `json:"regions"`
	// Projects are the projects (names, in the cloud's project domain)
	// synced, each its own scope; empty = the cloud's auth project.
	Projects sources.StringList `json:"projects"`
	// AllProjects lists the servers of every project (admins only).
	AllProjects bool `json:"all_projects"`
	// ServerFilters are passed to Nova's list servers call.
	ServerFilters map[string]any `json:"server_filters"`
	// InventoryHostname is "name" (the default; servers sharing a name
	// are named by id) or "uuid".
	InventoryHostname string `json:"inventory_hostname"`
	// LegacyGroups puts hosts in the plugin's groups (default true).
	LegacyGroups *bool `json:"legacy_groups"`
	// Private uses fixed addresses for ansible_host, never floating ones.
	Private bool `json:"private"`
	// OnlyIPv4 uses only IPv4 fixed addresses for ansible_host.
	OnlyIPv4 bool `json:"only_ipv4"`
	// ShowAll keeps servers without any address (left out by default).
	ShowAll bool `json:"show_all"`
	// UseNames sets ansible_host to the server name.
	UseNames bool `json:"use_names"`
	// ExpandHostvars true has no effect: Cinder and Neutron are not
	// queried per server.
	ExpandHostvars bool `json:"expand_hostvars"`
	// FailOnErrors true has no effect: a failed scope keeps its hosts.
	FailOnErrors bool `json:"fail_on_errors"`
	// Concurrency bounds the scopes fetched at once (Roster's own).
	Concurrency int `json:"concurrency"`

	sources.NoEffects // options given that have no effect, and why

	clouds map[string]*cloudConfig // parsed Clouds plus the inline cloud
}

// defaultInlineCloud names the cloud of top-level auth settings.
const defaultInlineCloud = "openstack"

// secretOptions are top-level options that would put a secret into the
// source's stored configuration.
var secretOptions = []string{"password", "application_credential_secret", "token", "passcode", "os_password", "api_key"}

// secretAuthKeys are the secret keys of a clouds.yaml auth block.
var secretAuthKeys = map[string]bool{"password": true, "application_credential_secret": true, "token": true, "passcode": true, "secret": true}

const secretMessage = "secrets are not stored in a source's configuration; give them in a clouds.yaml or secure.yaml file (clouds_yaml_path), the OS_* environment or the credential store"

// parseOptions normalises and decodes config, then checks every option,
// collecting all field errors. Error messages never repeat option values
// that may be secret.
func parseOptions(config map[string]any) (*Options, error) {
	var o Options
	errs, decoded := sources.DecodeOptions(config, &o, secretOptions, nil)
	if !decoded {
		return nil, errs.Err()
	}
	o.clouds = map[string]*cloudConfig{}
	if o.Clouds != nil {
		m, ok := o.Clouds.(map[string]any)
		if !ok {
			errs.Add("clouds", "must be a map of cloud name to its settings, as in clouds.yaml")
		}
		for _, name := range slices.Sorted(maps.Keys(m)) {
			field := "clouds." + name
			if err := checkName(name, "a cloud name"); err != "" {
				errs.Add(field, "%s", err)
				continue
			}
			cm, ok := m[name].(map[string]any)
			if !ok {
				errs.Add(field, "must be a map of settings (auth, region_name, regions, interface, ...)")
				continue
			}
			o.clouds[name] = parseCloud(name, field+".", cm, true, &errs)
		}
	}
	inline := map[string]any{}
	for k, v := range map[string]any{"auth": o.Auth, "auth_type": o.AuthType, "region_name": o.RegionName, "interface": o.Interface} {
		if v != nil && v != "" {
			inline[k] = v
		}
	}
	switch {
	case len(inline) > 0:
		name := o.Cloud
		if name == "" {
			name = defaultInlineCloud
		}
		if err := checkName(name, "a cloud name"); err != "" {
			errs.Add("cloud", "%s", err)
		} else if _, dup := o.clouds[name]; dup {
			errs.Add("cloud", "cloud %q is also in clouds; describe it in one place", name)
		} else {
			o.clouds[name] = parseCloud(name, "", inline, true, &errs)
		}
	case o.Cloud != "":
		errs.Add("cloud", "names the cloud of the top-level auth settings, and there are none; to pick clouds of clouds.yaml use only_clouds")
	}
	checkList(&errs, "only_clouds", o.OnlyClouds, "a cloud name")
	if len(o.clouds) > 0 {
		for i, c := range o.OnlyClouds {
			if _, ok := o.clouds[c]; !ok && c != "" {
				errs.Add(fmt.Sprintf("only_clouds[%d]", i), "%q is not one of the source's clouds (%s)", c, strings.Join(slices.Sorted(maps.Keys(o.clouds)), ", "))
			}
		}
	}
	for i, p := range o.CloudsYAMLPath {
		if strings.TrimSpace(p) == "" {
			errs.Add(fmt.Sprintf("clouds_yaml_path[%d]", i), "must be a file path")
		}
	}
	checkList(&errs, "regions", o.Regions, "a region name")
	checkList(&errs, "projects", o.Projects, "a project name")
	if o.AllProjects && len(o.Projects) > 1 {
		errs.Add("projects", "all_projects lists every project's servers from one project's token: give at most one project")
	}
	for _, k := range slices.Sorted(maps.Keys(o.ServerFilters)) {
		if _, err := filterParams(k, o.ServerFilters[k]); err != "" {
			errs.Add("server_filters."+k, "%s", err)
		}
	}
	switch o.InventoryHostname {
	case "", "name", "uuid":
	default:
		errs.Add("inventory_hostname", "must be name or uuid")
	}
	if o.ExpandHostvars {
		o.Warn("expand_hostvars", "Roster does not query Cinder and Neutron for each server; hosts have the host vars of expand_hostvars false")
	}
	if o.FailOnErrors {
		o.Warn("fail_on_errors", "a cloud, region or project that fails keeps its stored hosts and marks the run partial; Roster never drops hosts it could not see")
	}
	sources.CheckConcurrency(&errs, o.Concurrency)
	return &o, errs.Err()
}

// checkName returns why s cannot be a cloud, region or project name of a
// scope ("" when it can): scope names join them with "/".
func checkName(s, what string) string {
	switch {
	case strings.TrimSpace(s) == "":
		return "must be " + what
	case strings.Contains(s, "/"):
		return fmt.Sprintf("%q: must not contain \"/\" (scopes are named cloud/region/project)", s)
	case len(s) > 255:
		return "must be at most 255 characters"
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "must not contain control characters"
	}
	return ""
}

func checkList(errs *roster.FieldErrors, field string, list []string, what string) {
	seen := map[string]bool{}
	for i, s := range list {
		if err := checkName(s, what); err != "" {
			errs.Add(fmt.Sprintf("%s[%d]", field, i), "%s", err)
			continue
		}
		if seen[s] {
			errs.Add(fmt.Sprintf("%s[%d]", field, i), "%q is listed twice", s)
		}
		seen[s] = true
	}
}

// serverFilterNames maps the names server_filters accepts (openstacksdk's
// Server query parameters, which the plugin passes them through, and
// Nova's own) to Nova's query parameter.
var serverFilterNames = func() map[string]string {
	m := map[string]string{
		// openstacksdk names that differ from Nova's
		"access_ipv4": "access_ip_v4", "access_ipv6": "access_ip_v6", "has_config_drive": "config_drive",
		"deleted_only": "deleted", "compute_host": "host", "is_soft_deleted": "soft_deleted",
		"ipv4_address": "ip", "ipv6_address": "ip6", "changes_since": "changes-since",
		"changes_before": "changes-before", "id": "uuid", "any_tags": "tags-any",
		"not_tags": "not-tags", "not_any_tags": "not-tags-any",
	}
	for _, n := range []string{
		"auto_disk_config", "availability_zone", "created_at", "description", "flavor", "hostname",
		"image", "kernel_id", "key_name", "launch_index", "launched_at", "locked_by", "name", "node",
		"power_state", "progress", "project_id", "ramdisk_id", "reservation_id", "root_device_name",
		"status", "task_state", "terminated_at", "user_id", "vm_state", "sort_key", "sort_dir", "tags",
		"access_ip_v4", "access_ip_v6", "config_drive", "deleted", "host", "soft_deleted", "ip", "ip6",
		"changes-since", "changes-before", "uuid", "tags-any", "not-tags", "not-tags-any", "locked",
		"tenant_id", "pinned_availability_zone",
	} {
		m[n] = n
	}
	return m
}()

// filterParams turns one server_filters entry into Nova query parameters,
// or says why it cannot. Lists become repeated parameters, except for the
// tag filters, which Nova takes comma-separated.
func filterParams(name string, v any) ([][2]string, string) {
	switch name {
	case "limit", "marker":
		return nil, "Roster pages through servers itself; remove it"
	case "all_tenants", "all_projects":
		return nil, "use the all_projects option"
	}
	param, ok := serverFilterNames[name]
	if !ok {
		return nil, fmt.Sprintf("unknown server filter %q; see https://docs.openstack.org/api-ref/compute/#list-servers", name)
	}
	var values []string
	switch x := v.(type) {
	case []any:
		for _, item := range x {
			s, ok := scalar(item)
			if !ok {
				return nil, "must be a string, number, boolean or a list of them"
			}
			values = append(values, s)
		}
		if len(values) == 0 {
			return nil, "needs at least one value"
		}
	default:
		s, ok := scalar(v)
		if !ok {
			return nil, "must be a string, number, boolean or a list of them"
		}
		values = []string{s}
	}
	if strings.Contains(param, "tags") {
		return [][2]string{{param, strings.Join(values, ",")}}, ""
	}
	out := make([][2]string, len(values))
	for i, s := range values {
		out[i] = [2]string{param, s}
	}
	return out, ""
}

// scalar renders a filter value as Python's str() does for the plugin.
func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		if x {
			return "True", true
		}
		return "False", true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	}
	return "", false
}

// legacyGroups reports whether the plugin's groups are on.
func (o *Options) legacyGroups() bool { return o.LegacyGroups == nil || *o.LegacyGroups }

// useUUID reports whether hosts are named by server id.
func (o *Options) useUUID() bool { return o.InventoryHostname == "uuid" }
