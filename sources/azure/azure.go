// Package azure syncs Azure virtual machines (and scale-set instances),
// with the options and host vars of the azure.azcollection.azure_rm Ansible
// inventory plugin.
//
// A source lists one or more subscriptions, each a scope. A subscription
// is fetched with a handful of list calls, not several calls per VM as the
// plugin makes: the VMs (virtualMachines, per subscription or per resource
// group), their power states (the same list with statusOnly=true), the
// network interfaces and the public IP addresses (per subscription, or per
// resource group that the VMs' references name), joined by resource id.
// Scale sets add three lists each (instances with their instance view,
// NICs, public IPs). Only what a list missed (a resource created between
// two lists) is fetched on its own.
package azure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"
	"golang.org/x/sync/errgroup"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources"
)

// The SDK calls the provider makes, so the dependency is plain.
type (
	vmAPI interface {
		NewListAllPager(*armcompute.VirtualMachinesClientListAllOptions) *runtime.Pager[armcompute.VirtualMachinesClientListAllResponse]
		NewListPager(string, *armcompute.VirtualMachinesClientListOptions) *runtime.Pager[armcompute.VirtualMachinesClientListResponse]
		InstanceView(context.Context, string, string, *armcompute.VirtualMachinesClientInstanceViewOptions) (armcompute.VirtualMachinesClientInstanceViewResponse, error)
	}
	scaleSetAPI interface {
		NewListAllPager(*armcompute.VirtualMachineScaleSetsClientListAllOptions) *runtime.Pager[armcompute.VirtualMachineScaleSetsClientListAllResponse]
		NewListPager(string, *armcompute.VirtualMachineScaleSetsClientListOptions) *runtime.Pager[armcompute.VirtualMachineScaleSetsClientListResponse]
	}
	scaleSetVMAPI interface {
		NewListPager(string, string, *armcompute.VirtualMachineScaleSetVMsClientListOptions) *runtime.Pager[armcompute.VirtualMachineScaleSetVMsClientListResponse]
	}
	nicAPI interface {
		NewListAllPager(*armnetwork.InterfacesClientListAllOptions) *runtime.Pager[armnetwork.InterfacesClientListAllResponse]
		NewListPager(string, *armnetwork.InterfacesClientListOptions) *runtime.Pager[armnetwork.InterfacesClientListResponse]
		NewListVirtualMachineScaleSetNetworkInterfacesPager(string, string, *armnetwork.InterfacesClientListVirtualMachineScaleSetNetworkInterfacesOptions) *runtime.Pager[armnetwork.InterfacesClientListVirtualMachineScaleSetNetworkInterfacesResponse]
		Get(context.Context, string, string, *armnetwork.InterfacesClientGetOptions) (armnetwork.InterfacesClientGetResponse, error)
	}
	publicIPAPI interface {
		NewListAllPager(*armnetwork.PublicIPAddressesClientListAllOptions) *runtime.Pager[armnetwork.PublicIPAddressesClientListAllResponse]
		NewListPager(string, *armnetwork.PublicIPAddressesClientListOptions) *runtime.Pager[armnetwork.PublicIPAddressesClientListResponse]
		NewListVirtualMachineScaleSetPublicIPAddressesPager(string, string, *armnetwork.PublicIPAddressesClientListVirtualMachineScaleSetPublicIPAddressesOptions) *runtime.Pager[armnetwork.PublicIPAddressesClientListVirtualMachineScaleSetPublicIPAddressesResponse]
		Get(context.Context, string, string, *armnetwork.PublicIPAddressesClientGetOptions) (armnetwork.PublicIPAddressesClientGetResponse, error)
	}
)

var (
	_ vmAPI         = (*armcompute.VirtualMachinesClient)(nil)
	_ scaleSetAPI   = (*armcompute.VirtualMachineScaleSetsClient)(nil)
	_ scaleSetVMAPI = (*armcompute.VirtualMachineScaleSetVMsClient)(nil)
	_ nicAPI        = (*armnetwork.InterfacesClient)(nil)
	_ publicIPAPI   = (*armnetwork.PublicIPAddressesClient)(nil)
)

// DefaultTryTimeout bounds one try of one request when Driver.Retry does
// not say.
const DefaultTryTimeout = 2 * time.Minute

// fetchConcurrency bounds the requests one subscription has in flight
// beyond its four subscription-wide lists (per resource group, per scale
// set, and the rare single gets).
const fetchConcurrency = 4

// ClientSecret is a service principal's client-secret credential.
type ClientSecret struct {
	TenantID string
	ClientID string
	Secret   roster.Secret
}

// Driver builds Azure providers.
type Driver struct {
	// Credential, when set, authenticates sources without a credential of
	// their own, instead of a client secret (a token credential from
	// elsewhere: managed identity, workload identity, tests).
	Credential azcore.TokenCredential
	// ClientSecret, when set, is the service principal sources without a
	// credential of their own authenticate as, instead of
	// AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET. The token
	// request goes to the source's authority host.
	ClientSecret *ClientSecret
	// HTTPClient, when set, carries every request, to the identity
	// platform and to Resource Manager (a simulator's CA, proxies).
	HTTPClient *http.Client
	// Retry configures the SDK's retry policy (zero: the SDK's defaults,
	// 3 retries from 800ms, honouring Retry-After; and a TryTimeout of
	// DefaultTryTimeout, so a stalled request fails its subscription
	// instead of hanging the sync).
	Retry policy.RetryOptions
	// Getenv reads the environment (nil: os.Getenv).
	Getenv func(string) string
}

// Name implements sources.Driver.
func (Driver) Name() string { return "azure" }

// SecretOptions implements sources.SecretHolder.
func (Driver) SecretOptions() []string { return slices.Clone(secretOptions) }

// PluginNames implements sources.Driver.
func (Driver) PluginNames() []string { return []string{"azure.azcollection.azure_rm", "azure_rm"} }

// ConstructAliases returns the plugin's names for constructed options
// (conditional_groups, hostvar_expressions, fail_on_template_errors) and
// the construct step's names for them, for the registry to rename before
// it splits a source's configuration.
func (Driver) ConstructAliases() map[string]string { return maps.Clone(constructAliases) }

// CredentialRoutingOptions implements sources.CredentialRouter: the
// authority receives the client secret, Resource Manager the tokens.
func (Driver) CredentialRoutingOptions() []string {
	return []string{"authority_host", "arm_endpoint", "endpoint_url", "resource_manager_endpoint", "cloud_environment"}
}

// Validate implements sources.Driver.
func (Driver) Validate(config map[string]any) error {
	_, err := parseOptions(config)
	return err
}

// Warnings implements sources.Warner.
func (Driver) Warnings(config map[string]any) []string {
	return sources.OptionWarnings(parseOptions, config)
}

func (d Driver) getenv(k string) string {
	if d.Getenv != nil {
		return d.Getenv(k)
	}
	return os.Getenv(k)
}

// Open implements sources.Driver: it resolves the subscriptions, the cloud
// and the credential. No request is made until Collect.
//
// The service principal is, in order: the source's azure credential from
// the broker (tenant_id, client_id, client_secret); Driver.Credential;
// Driver.ClientSecret; AZURE_TENANT_ID, AZURE_CLIENT_ID and
// AZURE_CLIENT_SECRET. The subscriptions are the source's, else the
// credential's subscription_id, else AZURE_SUBSCRIPTION_ID.
func (d Driver) Open(ctx context.Context, cfg map[string]any, broker *sources.Credential, log *slog.Logger) (sources.Provider, error) {
	o, err := parseOptions(cfg)
	if err != nil {
		return nil, err
	}
	subs, from := []string(o.Subscriptions), ""
	switch {
	case len(subs) > 0:
	case broker.Field("subscription_id") != "":
		subs, from = []string{strings.TrimSpace(broker.Field("subscription_id").Reveal())}, "the credential's subscription_id"
	case strings.TrimSpace(d.getenv("AZURE_SUBSCRIPTION_ID")) != "":
		subs, from = []string{strings.TrimSpace(d.getenv("AZURE_SUBSCRIPTION_ID"))}, "AZURE_SUBSCRIPTION_ID"
	default:
		return nil, roster.Invalid(roster.FieldError{Field: "subscriptions", Message: "no subscription: list subscriptions (or give the credential a subscription_id, or set AZURE_SUBSCRIPTION_ID)"})
	}
	if from != "" && !subscriptionPattern.MatchString(subs[0]) {
		return nil, fmt.Errorf("%s is not a subscription id (a GUID)", from)
	}
	if d.Retry.TryTimeout == 0 {
		d.Retry.TryTimeout = DefaultTryTimeout
	}
	cc, custom := cloudConfig(o)
	var cred azcore.TokenCredential
	switch {
	case broker != nil:
		sp, err := brokerSecret(broker)
		if err != nil {
			return nil, err
		}
		cred, err = d.clientSecretCredential(sp, cc, custom)
		if err != nil {
			return nil, err
		}
	case d.Credential != nil:
		cred = d.Credential
	default:
		sp := d.ClientSecret
		if sp == nil {
			if sp, err = d.envSecret(); err != nil {
				return nil, err
			}
		}
		if cred, err = d.clientSecretCredential(sp, cc, custom); err != nil {
			return nil, err
		}
	}
	armOpts := &arm.ClientOptions{
		ClientOptions: policy.ClientOptions{
			Cloud:     cc,
			Retry:     d.Retry,
			Telemetry: policy.TelemetryOptions{ApplicationID: "roster"},
		},
		DisableRPRegistration: true,
	}
	if d.HTTPClient != nil {
		armOpts.Transport = d.HTTPClient
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &provider{opts: o, subs: subs, cred: cred, armOpts: armOpts, log: log}, nil
}

// cloudConfig is the cloud of cloud_environment with the authority host
// and Resource Manager endpoint overridden; custom reports an authority
// host that is not one of Microsoft's (instance discovery then cannot be
// asked of login.microsoftonline.com).
func cloudConfig(o *Options) (cloud.Configuration, bool) {
	base := cloud.AzurePublic
	switch o.CloudEnvironment {
	case "AzureChinaCloud":
		base = cloud.AzureChina
	case "AzureUSGovernment":
		base = cloud.AzureGovernment
	}
	cc := cloud.Configuration{ActiveDirectoryAuthorityHost: base.ActiveDirectoryAuthorityHost, Services: map[cloud.ServiceName]cloud.ServiceConfiguration{}}
	for k, v := range base.Services {
		cc.Services[k] = v
	}
	custom := false
	if o.AuthorityHost != "" {
		cc.ActiveDirectoryAuthorityHost = strings.TrimSuffix(o.AuthorityHost, "/") + "/"
		custom = true
	}
	if o.ARMEndpoint != "" {
		rm := cc.Services[cloud.ResourceManager]
		rm.Endpoint = strings.TrimSuffix(o.ARMEndpoint, "/")
		cc.Services[cloud.ResourceManager] = rm
	}
	return cc, custom
}

// brokerSecret reads the service principal of a source's azure
// credential. Errors name the missing fields, never a value.
func brokerSecret(c *sources.Credential) (*ClientSecret, error) {
	if c.Type != roster.CredentialAzure {
		return nil, roster.Errorf(roster.EINVALID, "an azure source cannot sync with a %s credential", c.Type)
	}
	sp := &ClientSecret{TenantID: c.Field("tenant_id").Reveal(), ClientID: c.Field("client_id").Reveal(), Secret: c.Field("client_secret")}
	if missing := sp.missing("tenant_id", "client_id", "client_secret"); len(missing) > 0 {
		return nil, fmt.Errorf("the source's azure credential has no %s", strings.Join(missing, ", "))
	}
	return sp, nil
}

// envSecret reads the service principal from the environment.
func (d Driver) envSecret() (*ClientSecret, error) {
	sp := &ClientSecret{
		TenantID: d.getenv("AZURE_TENANT_ID"),
		ClientID: d.getenv("AZURE_CLIENT_ID"),
		Secret:   roster.Secret(d.getenv("AZURE_CLIENT_SECRET")),
	}
	if missing := sp.missing("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"); len(missing) > 0 {
		return nil, fmt.Errorf("no Azure credential: the source names none, and the environment lacks %s (a service principal with a client secret)", strings.Join(missing, ", "))
	}
	return sp, nil
}

// missing names the empty parts, called tenant, client and secret.
func (sp *ClientSecret) missing(tenant, client, secret string) []string {
	var out []string
	if sp.TenantID == "" {
		out = append(out, tenant)
	}
	if sp.ClientID == "" {
		out = append(out, client)
	}
	if sp.Secret.Reveal() == "" {
		out = append(out, secret)
	}
	return out
}

// clientSecretCredential builds a service principal's credential, asking
// the source's authority host for its tokens.
func (d Driver) clientSecretCredential(sp *ClientSecret, cc cloud.Configuration, custom bool) (azcore.TokenCredential, error) {
	opts := &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            policy.ClientOptions{Cloud: cc, Retry: d.Retry},
		DisableInstanceDiscovery: custom,
	}
	if d.HTTPClient != nil {
		opts.Transport = d.HTTPClient
	}
	cred, err := azidentity.NewClientSecretCredential(sp.TenantID, sp.ClientID, sp.Secret.Reveal(), opts)
	if err != nil {
		// The SDK's constructor errors name the malformed input (a tenant
		// id with invalid characters), not the secret.
		return nil, fmt.Errorf("azure credential: %w", err)
	}
	return cred, nil
}

type provider struct {
	opts    *Options
	subs    []string
	cred    azcore.TokenCredential
	armOpts *arm.ClientOptions
	log     *slog.Logger
}

// Concurrency bounds the subscriptions fetched at once.
func (p *provider) Concurrency() int { return p.opts.Concurrency }

// Scopes implements sources.Provider: the subscriptions.
func (p *provider) Scopes(context.Context) ([]string, error) { return p.subs, nil }

// clients are one subscription's SDK clients.
type clients struct {
	vms      vmAPI
	sets     scaleSetAPI
	setVMs   scaleSetVMAPI
	nics     nicAPI
	publicIP publicIPAPI
}

func (p *provider) clients(sub string) (*clients, error) {
	compute, err := armcompute.NewClientFactory(sub, p.cred, p.armOpts)
	if err != nil {
		return nil, fmt.Errorf("compute client: %w", err)
	}
	network, err := armnetwork.NewClientFactory(sub, p.cred, p.armOpts)
	if err != nil {
		return nil, fmt.Errorf("network client: %w", err)
	}
	return &clients{
		vms:      compute.NewVirtualMachinesClient(),
		sets:     compute.NewVirtualMachineScaleSetsClient(),
		setVMs:   compute.NewVirtualMachineScaleSetVMsClient(),
		nics:     network.NewInterfacesClient(),
		publicIP: network.NewPublicIPAddressesClient(),
	}, nil
}

// fetch is what one subscription's lists returned, as records. NICs and
// public IPs are keyed by lower-case resource id: ARM ids are
// case-insensitive, and the compute and network providers do not spell
// them alike.
type fetch struct {
	mu        sync.Mutex
	vms       []*vmRecord       // standalone VMs
	power     map[string]string // standalone VM id → power state
	instances []*vmRecord       // uniform scale-set instances
	nics      map[string]*nicRecord
	publicIPs map[string]*publicIPRecord
}

func (f *fetch) addNICs(list []*armnetwork.Interface) {
	recs := make([]*nicRecord, 0, len(list))
	for _, n := range list {
		if n != nil && n.ID != nil {
			recs = append(recs, nicFromSDK(n))
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range recs {
		f.nics[strings.ToLower(r.id)] = r
	}
}

func (f *fetch) addPublicIPs(list []*armnetwork.PublicIPAddress) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ip := range list {
		if ip != nil && ip.ID != nil {
			f.publicIPs[strings.ToLower(*ip.ID)] = publicIPFromSDK(ip)
		}
	}
}

func vmRecords(list []*armcompute.VirtualMachine) []*vmRecord {
	out := make([]*vmRecord, 0, len(list))
	for _, v := range list {
		if v != nil && v.ID != nil {
			out = append(out, vmFromSDK(v))
		}
	}
	return out
}

// Collect implements sources.Provider: every VM of one subscription (in
// the included resource groups), and the instances of its uniform scale
// sets when include_vmss is on. Any failed request fails the whole
// subscription: a partial list is never returned.
func (p *provider) Collect(ctx context.Context, sub string) ([]sources.Instance, error) {
	return sources.CollectAll(ctx, p, sub)
}

var _ sources.PageCollector = (*provider)(nil)

// CollectPages lists what the subscription's machines reference, then
// translates the machines a handful at a time (sources.Pager).
//
// With every resource group included (the default), the power states,
// NICs and public IPs are listed first and the VMs then a page at a time,
// each page joined and translated as it comes: the subscription's VMs are
// never all in memory (issue 14). Limited to resource groups, the NICs to
// list depend on the VMs' references, so the VMs are listed whole first.
func (p *provider) CollectPages(ctx context.Context, sub string, page func([]sources.Instance) error) error {
	c, err := p.clients(sub)
	if err != nil {
		return err
	}
	f := &fetch{power: map[string]string{}, nics: map[string]*nicRecord{}, publicIPs: map[string]*publicIPRecord{}}
	o := p.opts

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return listPowerStates(gctx, c, f) })
	if o.allVMRGs {
		// Every resource group: the network lists can go at once.
		g.Go(func() error { return listAllNICs(gctx, c, f) })
		g.Go(func() error { return listAllPublicIPs(gctx, c, f) })
	} else {
		g.Go(func() error { return p.listVMs(gctx, c, f) })
	}
	if o.vmss {
		g.Go(func() error { return p.listScaleSets(gctx, c, f) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	pager := sources.NewPager(page)
	add := func(r *vmRecord) {
		inst := p.instance(r, f)
		if p.opts.keep(inst.Vars) { // exclude/include_host_filters
			pager.Add(inst)
		}
	}
	translate := func(vms []*vmRecord) error {
		if err := p.fillGaps(ctx, c, f, vms); err != nil {
			return err
		}
		for _, r := range vms {
			power, ok := f.power[strings.ToLower(r.id)]
			if !ok {
				continue // gone between the lists (see fillGaps)
			}
			r.power = power
			add(r)
		}
		return pager.Err()
	}
	if o.allVMRGs {
		vms := c.vms.NewListAllPager(nil)
		for vms.More() {
			resp, err := vms.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("list virtual machines: %w", explain(err))
			}
			if err := translate(vmRecords(resp.Value)); err != nil {
				return err
			}
		}
	} else {
		// Listed by resource group: list the NICs of the groups the VMs'
		// references name, then the public IPs their NICs name.
		if err := listNICGroups(ctx, c, f); err != nil {
			return err
		}
		if err := listPublicIPGroups(ctx, c, f); err != nil {
			return err
		}
		if err := translate(f.vms); err != nil {
			return err
		}
	}
	for _, r := range f.instances {
		add(r)
	}
	return pager.Flush()
}

// listVMs lists the VMs of each included resource group.
func (p *provider) listVMs(ctx context.Context, c *clients, f *fetch) error {
	lists := make([][]*vmRecord, len(p.opts.IncludeVMResourceGroups))
	err := forEach(ctx, p.opts.IncludeVMResourceGroups, func(ctx context.Context, i int, rg string) error {
		pager := c.vms.NewListPager(rg, nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if isNotFound(err, "ResourceGroupNotFound") {
				// A group named for several subscriptions exists in some:
				// where it does not, it has no VMs.
				p.log.Debug("resource group not found", "resource_group", rg)
				return nil
			}
			if err != nil {
				return fmt.Errorf("list virtual machines of resource group %s: %w", rg, explain(err))
			}
			lists[i] = append(lists[i], vmRecords(page.Value)...)
		}
		return nil
	})
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range lists {
		f.vms = append(f.vms, l...)
	}
	return nil
}

// listPowerStates lists the subscription's VMs with statusOnly=true: their
// instance view's statuses, without the model.
func listPowerStates(ctx context.Context, c *clients, f *fetch) error {
	pager := c.vms.NewListAllPager(&armcompute.VirtualMachinesClientListAllOptions{StatusOnly: to("true")})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list virtual machine power states: %w", explain(err))
		}
		f.mu.Lock()
		for _, v := range page.Value {
			if v == nil || v.ID == nil || v.Properties == nil {
				continue
			}
			f.power[strings.ToLower(*v.ID)] = powerState(v.Properties.InstanceView)
		}
		f.mu.Unlock()
	}
	return nil
}

func listAllNICs(ctx context.Context, c *clients, f *fetch) error {
	pager := c.nics.NewListAllPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list network interfaces: %w", explain(err))
		}
		f.addNICs(page.Value)
	}
	return nil
}

func listAllPublicIPs(ctx context.Context, c *clients, f *fetch) error {
	pager := c.publicIP.NewListAllPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list public IP addresses: %w", explain(err))
		}
		f.addPublicIPs(page.Value)
	}
	return nil
}

// listNICGroups lists the NICs of every resource group a VM's
// networkProfile refers to (a NIC may live in another group than its VM).
func listNICGroups(ctx context.Context, c *clients, f *fetch) error {
	groups := map[string]string{}
	for _, v := range f.vms {
		for _, ref := range v.nics {
			if rg := resourceGroupOf(ref.id); rg != "" {
				groups[strings.ToLower(rg)] = rg
			}
		}
	}
	return forEach(ctx, sortedValues(groups), func(ctx context.Context, _ int, rg string) error {
		pager := c.nics.NewListPager(rg, nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("list network interfaces of resource group %s: %w", rg, explain(err))
			}
			f.addNICs(page.Value)
		}
		return nil
	})
}

// listPublicIPGroups lists the public IPs of every resource group the
// NICs' IP configurations refer to.
func listPublicIPGroups(ctx context.Context, c *clients, f *fetch) error {
	groups := map[string]string{}
	for _, n := range f.nics {
		for _, c := range n.ipConfigs {
			if rg := resourceGroupOf(c.publicIPID); rg != "" {
				groups[strings.ToLower(rg)] = rg
			}
		}
	}
	return forEach(ctx, sortedValues(groups), func(ctx context.Context, _ int, rg string) error {
		pager := c.publicIP.NewListPager(rg, nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("list public IP addresses of resource group %s: %w", rg, explain(err))
			}
			f.addPublicIPs(page.Value)
		}
		return nil
	})
}

// listScaleSets lists the scale sets of the subscription (or of the
// included groups) and, for each uniform one, its instances with their
// instance view, its NICs and its public IPs. Flexible scale sets are
// skipped: their VMs are ordinary VMs, listed with the others.
func (p *provider) listScaleSets(ctx context.Context, c *clients, f *fetch) error {
	var sets []*armcompute.VirtualMachineScaleSet
	if p.opts.allVMSSRG {
		pager := c.sets.NewListAllPager(nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("list scale sets: %w", explain(err))
			}
			sets = append(sets, page.Value...)
		}
	} else {
		lists := make([][]*armcompute.VirtualMachineScaleSet, len(p.opts.IncludeVMSSResourceGroups))
		err := forEach(ctx, p.opts.IncludeVMSSResourceGroups, func(ctx context.Context, i int, rg string) error {
			pager := c.sets.NewListPager(rg, nil)
			for pager.More() {
				page, err := pager.NextPage(ctx)
				if isNotFound(err, "ResourceGroupNotFound") {
					return nil
				}
				if err != nil {
					return fmt.Errorf("list scale sets of resource group %s: %w", rg, explain(err))
				}
				lists[i] = append(lists[i], page.Value...)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, l := range lists {
			sets = append(sets, l...)
		}
	}
	var uniform []*armcompute.VirtualMachineScaleSet
	for _, s := range sets {
		if s == nil || s.ID == nil || s.Name == nil {
			continue
		}
		if s.Properties != nil && s.Properties.OrchestrationMode != nil && *s.Properties.OrchestrationMode == armcompute.OrchestrationModeFlexible {
			continue
		}
		uniform = append(uniform, s)
	}
	members := make([][]*vmRecord, len(uniform))
	err := forEach(ctx, uniform, func(ctx context.Context, i int, s *armcompute.VirtualMachineScaleSet) error {
		rg, name := resourceGroupOf(*s.ID), *s.Name
		pager := c.setVMs.NewListPager(rg, name, &armcompute.VirtualMachineScaleSetVMsClientListOptions{Expand: to("instanceView")})
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if isNotFound(err, "") && members[i] == nil {
				return nil // deleted since the scale sets were listed
			}
			if err != nil {
				return fmt.Errorf("list instances of scale set %s: %w", name, explain(err))
			}
			for _, v := range page.Value {
				if v != nil && v.ID != nil {
					members[i] = append(members[i], scaleSetVMFromSDK(v, s))
				}
			}
		}
		nics := c.nics.NewListVirtualMachineScaleSetNetworkInterfacesPager(rg, name, nil)
		for nics.More() {
			page, err := nics.NextPage(ctx)
			if isNotFound(err, "") {
				members[i] = nil // deleted meanwhile: drop its instances too
				return nil
			}
			if err != nil {
				return fmt.Errorf("list network interfaces of scale set %s: %w", name, explain(err))
			}
			f.addNICs(page.Value)
		}
		ips := c.publicIP.NewListVirtualMachineScaleSetPublicIPAddressesPager(rg, name, nil)
		for ips.More() {
			page, err := ips.NextPage(ctx)
			if isNotFound(err, "") {
				members[i] = nil
				return nil
			}
			if err != nil {
				return fmt.Errorf("list public IP addresses of scale set %s: %w", name, explain(err))
			}
			f.addPublicIPs(page.Value)
		}
		return nil
	})
	if err != nil {
		return err
	}
	f.mu.Lock()
	for _, m := range members {
		f.instances = append(f.instances, m...)
	}
	f.mu.Unlock()
	return nil
}

// fillGaps fetches, one by one, what the lists missed because it was
// created between two of them: the power state of a VM the status list
// did not have, a NIC or public IP the network lists did not have. A VM
// whose instance view is gone (deleted meanwhile) is dropped; a NIC or
// public IP that is gone is left out of the host vars.
func (p *provider) fillGaps(ctx context.Context, c *clients, f *fetch, vms []*vmRecord) error {
	var (
		noPower []*vmRecord
		nics    = map[string]string{}
	)
	for _, v := range vms {
		if _, ok := f.power[strings.ToLower(v.id)]; !ok {
			noPower = append(noPower, v)
		}
		for _, ref := range v.nics {
			if _, ok := f.nics[strings.ToLower(ref.id)]; !ok {
				nics[strings.ToLower(ref.id)] = ref.id
			}
		}
	}
	err := forEach(ctx, noPower, func(ctx context.Context, _ int, v *vmRecord) error {
		rg, name := resourceGroupOf(v.id), lastSegment(v.id)
		resp, err := c.vms.InstanceView(ctx, rg, name, nil)
		if isNotFound(err, "") {
			return nil
		}
		if err != nil {
			return fmt.Errorf("get instance view of %s: %w", name, explain(err))
		}
		f.mu.Lock()
		f.power[strings.ToLower(v.id)] = powerState(&resp.VirtualMachineInstanceView)
		f.mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	err = forEach(ctx, sortedValues(nics), func(ctx context.Context, _ int, id string) error {
		resp, err := c.nics.Get(ctx, resourceGroupOf(id), lastSegment(id), nil)
		if isNotFound(err, "") {
			return nil
		}
		if err != nil {
			return fmt.Errorf("get network interface %s: %w", lastSegment(id), explain(err))
		}
		f.addNICs([]*armnetwork.Interface{&resp.Interface})
		return nil
	})
	if err != nil {
		return err
	}
	ips := map[string]string{}
	var used []*nicRecord
	for _, v := range vms {
		for _, ref := range v.nics {
			if n := f.nics[strings.ToLower(ref.id)]; n != nil {
				used = append(used, n)
			}
		}
	}
	for _, n := range used {
		for _, c := range n.ipConfigs {
			id := c.publicIPID
			if _, ok := f.publicIPs[strings.ToLower(id)]; !ok && id != "" && isStandalone(id) {
				ips[strings.ToLower(id)] = id
			}
		}
	}
	return forEach(ctx, sortedValues(ips), func(ctx context.Context, _ int, id string) error {
		resp, err := c.publicIP.Get(ctx, resourceGroupOf(id), lastSegment(id), nil)
		if isNotFound(err, "") {
			return nil
		}
		if err != nil {
			return fmt.Errorf("get public IP address %s: %w", lastSegment(id), explain(err))
		}
		f.addPublicIPs([]*armnetwork.PublicIPAddress{&resp.PublicIPAddress})
		return nil
	})
}

// isStandalone reports whether a public IP id is a top-level resource (a
// scale-set instance's public IPs live under the scale set and come with
// its list).
func isStandalone(id string) bool {
	return !strings.Contains(strings.ToLower(id), "/virtualmachinescalesets/")
}

// forEach runs fn for every item with at most fetchConcurrency at once;
// the first error cancels the rest and is returned.
func forEach[T any](ctx context.Context, items []T, fn func(context.Context, int, T) error) error {
	if len(items) == 0 {
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fetchConcurrency)
	for i, it := range items {
		g.Go(func() error { return fn(gctx, i, it) })
	}
	return g.Wait()
}

// isNotFound reports whether err is a 404 (with ARM error code, when not
// empty).
func isNotFound(err error, code string) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound && (code == "" || strings.EqualFold(re.ErrorCode, code))
}
