package openstack

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources"
)

// Credential is the secret half of a cloud's authentication: the
// identifiers (user, project, application credential id) come from the
// cloud's configuration.
type Credential struct {
	Password                    roster.Secret
	ApplicationCredentialSecret roster.Secret
}

// Credentials supply secrets at sync time, by cloud name (the credential
// broker, or fixed ones for the demo and tests).
type Credentials interface {
	// Credential returns the secret of a cloud; ok is false when there is
	// none for it.
	Credential(ctx context.Context, cloud string) (c Credential, ok bool, err error)
}

// StaticCredentials are fixed credentials by cloud name; the key "" holds
// the credential of any cloud not listed.
type StaticCredentials map[string]Credential

// Credential implements Credentials.
func (s StaticCredentials) Credential(_ context.Context, cloud string) (Credential, bool, error) {
	if c, ok := s[cloud]; ok {
		return c, true, nil
	}
	c, ok := s[""]
	return c, ok, nil
}

// Default retry settings.
const (
	defaultMaxRetries = 6
	defaultMaxBackoff = 30 * time.Second
	defaultPageSize   = 1000
)

// Driver builds OpenStack providers.
type Driver struct {
	// HTTPClient, when set, is used for every call (tests, proxies); the
	// clouds' verify and cacert settings are then not applied.
	HTTPClient *http.Client
	// Credentials, when set, supply passwords and application credential
	// secrets by cloud name, before clouds.yaml files and OS_* variables.
	Credentials Credentials
	// MaxRetries bounds the retries of one request after 413, 429, 502,
	// 503, 504 or a network error (0: 6).
	MaxRetries int
	// MaxBackoff caps the wait before a retry, Retry-After included
	// (0: 30s).
	MaxBackoff time.Duration
	// PageSize is the limit asked of Nova per page (0: 1000, Nova's
	// default maximum).
	PageSize int
	// Getenv replaces os.Getenv for the OS_* variables (tests).
	Getenv func(string) string
	// ConfigDirs are the directories searched for clouds.yaml and
	// secure.yaml; nil = ".", ~/.config/openstack, /etc/openstack.
	ConfigDirs []string
}

// StrictCompose implements sources.StrictComposer: the 2.x plugin composes
// with strict=True (plugins/inventory/openstack.py, _add_host), so a
// compose error fails the sync whatever strict says.
func (Driver) StrictCompose() bool { return true }

// Name implements sources.Driver.
func (Driver) Name() string { return "openstack" }

// SecretOptions implements sources.SecretHolder: the top-level
// options, and the secret keys of the auth blocks (auth, clouds.NAME.auth).
func (Driver) SecretOptions() []string {
	opts := slices.Clone(secretOptions)
	for _, k := range slices.Sorted(maps.Keys(secretAuthKeys)) {
		opts = append(opts, "auth."+k, "clouds.*.auth."+k)
	}
	return opts
}

// PluginNames implements sources.Driver.
func (Driver) PluginNames() []string { return []string{"openstack.cloud.openstack", "openstack"} }

// CredentialRoutingOptions implements sources.CredentialRouter. Secrets
// stay bound to the auth_url they came with, so pointing a cloud elsewhere
// leaks none; but clouds_yaml_path reads files (and their secrets) on the
// server.
func (Driver) CredentialRoutingOptions() []string { return []string{"clouds_yaml_path"} }

// Validate implements sources.Driver.
func (Driver) Validate(config map[string]any) error {
	_, err := parseOptions(config)
	return err
}

// Warnings implements sources.Warner.
func (Driver) Warnings(config map[string]any) []string {
	return sources.OptionWarnings(parseOptions, config)
}

// Open implements sources.Driver. It reads the clouds' configuration and
// secrets; it does not contact them.
func (d Driver) Open(ctx context.Context, config map[string]any, cred *sources.Credential, log *slog.Logger) (sources.Provider, error) {
	o, err := parseOptions(config)
	if err != nil {
		return nil, err
	}
	if cred != nil {
		d = d.withCredential(o, cred)
	}
	clouds, _, err := d.resolveClouds(o)
	if err != nil {
		return nil, err
	}
	p := &provider{d: d, opts: o, log: log}
	for _, c := range clouds {
		if err := d.secrets(ctx, c); err != nil {
			return nil, err
		}
		p.clouds = append(p.clouds, &cloud{cfg: c, sessions: map[string]*session{}})
	}
	p.retry = newRetryPolicy(d, log)
	return p, nil
}

// withCredential makes a source's openstack credential from the broker the
// source of its secrets. A source that describes no cloud gets one from the
// credential's fields; otherwise the credential's secrets go to the
// source's clouds whose auth_url is the credential's, and nowhere else.
func (d Driver) withCredential(o *Options, cred *sources.Credential) Driver {
	authURL := cred.Field("auth_url").Reveal()
	if len(o.clouds) == 0 {
		name := o.Cloud
		if name == "" {
			name = "openstack"
		}
		c := &cloudConfig{name: name}
		a := &c.auth
		a.authURL = authURL
		a.username = cred.Field("username").Reveal()
		a.userDomainName = cred.Field("user_domain_name").Reveal()
		a.projectName = cred.Field("project_name").Reveal()
		a.projectID = cred.Field("project_id").Reveal()
		a.projectDomainName = cred.Field("project_domain_name").Reveal()
		a.appCredID = cred.Field("application_credential_id").Reveal()
		if r := cred.Field("region_name").Reveal(); r != "" {
			c.regions = []string{r}
		}
		if a.appCredID != "" {
			c.authType = "application_credential"
		}
		o.clouds = map[string]*cloudConfig{name: c}
	}
	d.Credentials = brokerCredential{authURL: authURL, cred: Credential{
		Password:                    cred.Field("password"),
		ApplicationCredentialSecret: cred.Field("application_credential_secret"),
	}, clouds: o.clouds}
	return d
}

// brokerCredential hands a broker credential's secrets to the clouds that
// authenticate at its auth_url.
type brokerCredential struct {
	authURL string
	cred    Credential
	clouds  map[string]*cloudConfig
}

func (b brokerCredential) Credential(_ context.Context, cloud string) (Credential, bool, error) {
	c, ok := b.clouds[cloud]
	if !ok || !sameURL(c.auth.authURL, b.authURL) {
		return Credential{}, false, nil
	}
	return b.cred, true, nil
}

type provider struct {
	d      Driver
	opts   *Options
	log    *slog.Logger
	clouds []*cloud
	retry  *retryPolicy

	mu     sync.Mutex
	scopes map[string]*scope
	// notes are remarks on the sync for its run (sources.Noter).
	notes []string
}

// Notes implements sources.Noter.
func (p *provider) Notes() []string { return p.notes }

// scope is one (cloud, region, project) to list.
type scope struct {
	cloud   *cloud
	region  string
	project projectRef
}

// Concurrency bounds the scopes fetched at once.
func (p *provider) Concurrency() int { return p.opts.Concurrency }

// Scopes implements sources.Provider: every (cloud, region, project) of
// the source. A cloud whose regions come from its catalog, or whose
// project is only known from its token (application credentials), is
// authenticated here; failing that fails the sync, since its scopes are
// unknown.
func (p *provider) Scopes(ctx context.Context) ([]string, error) {
	scopes := map[string]*scope{}
	var names []string
	for _, c := range p.clouds {
		projects, err := p.projects(c)
		if err != nil {
			return nil, err
		}
		regions := []string(p.opts.Regions)
		if len(regions) == 0 {
			regions = c.cfg.regions
			// With only_clouds the plugin makes each cloud with
			// openstacksdk's OpenStackConfig.get_one(cloud=NAME), which
			// takes the first of its regions; get_all(), without
			// only_clouds, takes every one.
			if len(p.opts.OnlyClouds) > 0 && len(regions) > 1 {
				p.notes = append(p.notes, fmt.Sprintf("cloud %q has the regions %s; with only_clouds, as in the plugin, only the first (%s) is synced: "+
					"name them in regions to sync them all", c.cfg.name, strings.Join(regions, ", "), regions[0]))
				regions = regions[:1]
			}
		}
		for _, proj := range projects {
			if len(regions) == 0 || proj.label == "" {
				s, err := c.session(ctx, p, proj)
				if err != nil {
					return nil, err
				}
				if len(regions) == 0 {
					if regions = s.computeRegions(c.cfg.iface); len(regions) == 0 {
						return nil, fmt.Errorf("cloud %q: the service catalog has no compute endpoint (interface %s)", c.cfg.name, ifaceOf(c.cfg))
					}
				}
				if proj.label == "" {
					proj.label = s.projectName
				}
			}
			label := proj.label
			if p.opts.AllProjects {
				label = "*"
			}
			for _, r := range regions {
				name := c.cfg.name + "/" + r + "/" + label
				if _, dup := scopes[name]; dup {
					continue
				}
				scopes[name] = &scope{cloud: c, region: r, project: proj}
				names = append(names, name)
			}
		}
	}
	p.mu.Lock()
	p.scopes = scopes
	p.mu.Unlock()
	return names, nil
}

// projects are the projects of a cloud to sync: the projects option, else
// the cloud's own project.
func (p *provider) projects(c *cloud) ([]projectRef, error) {
	a := &c.cfg.auth
	if c.cfg.usesAppCredential() {
		if len(p.opts.Projects) > 0 {
			return nil, fmt.Errorf("cloud %q authenticates with an application credential, which is bound to one project: remove projects", c.cfg.name)
		}
		return []projectRef{{}}, nil
	}
	if len(p.opts.Projects) > 0 {
		out := make([]projectRef, len(p.opts.Projects))
		for i, n := range p.opts.Projects {
			out[i] = projectRef{name: n, label: n}
		}
		return out, nil
	}
	switch {
	case a.projectName != "":
		return []projectRef{{name: a.projectName, label: a.projectName}}, nil
	case a.projectID != "":
		return []projectRef{{id: a.projectID, label: a.projectID}}, nil
	}
	return []projectRef{{}}, nil // the user's default project, learnt from the token
}

// Collect implements sources.Provider: every server of one scope, or an
// error.
func (p *provider) Collect(ctx context.Context, name string) ([]sources.Instance, error) {
	return sources.CollectAll(ctx, p, name)
}

var _ sources.PageCollector = (*provider)(nil)

// CollectPages lists the scope's servers whole (their names are settled
// across the scope), keeping the raw pages on disk, then decodes and
// translates them a handful at a time (sources.Pager).
func (p *provider) CollectPages(ctx context.Context, name string, page func([]sources.Instance) error) error {
	p.mu.Lock()
	sc := p.scopes[name]
	p.mu.Unlock()
	if sc == nil {
		return fmt.Errorf("unknown scope %q", name)
	}
	s, err := sc.cloud.session(ctx, p, sc.project)
	if err != nil {
		return err
	}
	servers, err := p.fetch(ctx, sc, s)
	if err != nil {
		return err
	}
	defer servers.Close()
	return p.instances(sc, servers, page)
}

// instances translates one scope's servers, naming them as the plugin
// does: by name, by id when another server of the scope has the same name
// (or with inventory_hostname: uuid).
func (p *provider) instances(sc *scope, servers *serverList, page func([]sources.Instance) error) error {
	count := servers.names
	vc := &varsContext{cloud: sc.cloud.cfg.name, region: sc.region, opts: p.opts}
	pager := sources.NewPager(page)
	err := servers.each(func(s *novaServer) error {
		if !p.opts.ShowAll && len(s.Addresses) == 0 {
			return nil // the plugin leaves out servers without an address
		}
		hostname := s.Name
		if p.opts.useUUID() || count[s.Name] > 1 {
			hostname = s.ID
		}
		vars, address := serverVars(s, vc)
		inst := sources.Instance{
			ExternalID: s.ID,
			Hostnames:  []string{hostname},
			Address:    address,
			Enabled:    s.Status == "ACTIVE",
			Vars:       vars,
		}
		if p.opts.legacyGroups() {
			inst.Groups = legacyGroups(s, vc)
		}
		pager.Add(inst)
		return pager.Err()
	})
	if err != nil {
		return err
	}
	return pager.Flush()
}

// sortedUnique sorts s and removes duplicates and empty strings.
func sortedUnique(s []string) []string {
	slices.Sort(s)
	s = slices.Compact(s)
	if len(s) > 0 && s[0] == "" {
		s = s[1:]
	}
	return s
}
