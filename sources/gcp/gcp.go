// Package gcp syncs Compute Engine instances, with the options and host
// vars of the google.cloud.gcp_compute Ansible inventory plugin.
//
// Each project is a scope. Without zones, a project is listed with one
// paged instances.aggregatedList (every zone at once); with zones, with
// one paged instances.list per zone. Calls go through the Compute client
// library (cloud.google.com/go/compute/apiv1, REST), authenticated with a
// service account key: a JWT signed with the key is exchanged for an
// access token at the OAuth2 token endpoint (the Google auth library's
// two-legged flow), once per sync.
package gcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/httptransport"
	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"

	"github.com/rosterhq/roster/sources"
)

// pageSize is the largest page the Compute list methods return.
const pageSize = 500

// Defaults of the Driver's retry settings.
const (
	defaultMaxAttempts = 8
	defaultMaxBackoff  = 30 * time.Second
)

// instancesAPI and disksAPI name the calls the provider makes.
type instancesAPI interface {
	AggregatedList(context.Context, *computepb.AggregatedListInstancesRequest, ...gax.CallOption) *compute.InstancesScopedListPairIterator
	List(context.Context, *computepb.ListInstancesRequest, ...gax.CallOption) *compute.InstanceIterator
}

type disksAPI interface {
	AggregatedList(context.Context, *computepb.AggregatedListDisksRequest, ...gax.CallOption) *compute.DisksScopedListPairIterator
}

var (
	_ instancesAPI = (*compute.InstancesClient)(nil)
	_ disksAPI     = (*compute.DisksClient)(nil)
)

// Driver builds GCP providers.
type Driver struct {
	// Credentials, when set, is the service account key every source uses
	// (the demo and tests inject the simulator's this way; nothing is
	// stored). Otherwise the key file GOOGLE_APPLICATION_CREDENTIALS names
	// is read at each sync, until the credential broker provides keys.
	Credentials ServiceAccountKey
	// HTTPClient, when set, carries every call, the token exchange
	// included (tests, proxies). Its Transport is used as the base the
	// access token is added on top of.
	HTTPClient *http.Client
	// MaxAttempts bounds the tries of each call (0: 8).
	MaxAttempts int
	// MaxBackoff caps the delay between tries, a server's Retry-After
	// included (0: 30s).
	MaxBackoff time.Duration
}

// Name implements sources.Driver.
func (Driver) Name() string { return "gcp" }

// SecretOptions implements sources.SecretHolder.
func (Driver) SecretOptions() []string { return slices.Clone(secretOptions) }

// PluginNames implements sources.Driver.
func (Driver) PluginNames() []string { return []string{"google.cloud.gcp_compute", "gcp_compute"} }

// CredentialRoutingOptions implements sources.CredentialRouter: the
// Compute endpoint receives the access token, the token URI the signed
// assertion.
func (Driver) CredentialRoutingOptions() []string {
	return []string{"endpoint_url", "endpoint", "token_uri", "token_url"}
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

// Open implements sources.Driver. It reads and checks the service account
// key; the token is fetched by the first call (Scopes).
func (d Driver) Open(ctx context.Context, cfg map[string]any, cred *sources.Credential, log *slog.Logger) (sources.Provider, error) {
	o, err := parseOptions(cfg)
	if err != nil {
		return nil, err
	}
	injected, origin := d.Credentials, ""
	if sa := cred.Field("service_account_json"); sa != "" {
		injected, origin = ServiceAccountKey(sa.Reveal()), "the source's gcp credential"
	}
	raw, keyOrigin, err := loadKey(injected)
	if origin == "" {
		origin = keyOrigin
	}
	if err != nil {
		return nil, err
	}
	sa, err := parseServiceAccount(raw, origin)
	if err != nil {
		return nil, err
	}
	base := http.RoundTripper(sharedTransport())
	tokenClient := &http.Client{Transport: base, Timeout: time.Minute}
	if d.HTTPClient != nil {
		tokenClient = d.HTTPClient
		if d.HTTPClient.Transport != nil {
			base = d.HTTPClient.Transport
		} else {
			base = http.DefaultTransport
		}
	}
	tp, err := newTokenProvider(sa, o.TokenURI, o.Scopes, tokenClient)
	if err != nil {
		return nil, err
	}
	creds := auth.NewCredentials(&auth.CredentialsOptions{
		TokenProvider: auth.NewCachedTokenProvider(tp, &auth.CachedTokenProviderOptions{DisableAsyncRefresh: true}),
	})
	hc, err := httptransport.NewClient(&httptransport.Options{
		Credentials:      creds,
		BaseRoundTripper: base,
		DisableTelemetry: true,
		Logger:           discardLog,
	})
	if err != nil {
		return nil, fmt.Errorf("set up the authenticated HTTP client: %w", err)
	}
	var endpoint []option.ClientOption
	if o.EndpointURL != "" {
		endpoint = append(endpoint, option.WithEndpoint(strings.TrimSuffix(o.EndpointURL, "/")))
	}
	if log == nil {
		log = discardLog
	}
	p := &provider{opts: o, creds: creds, auth: hc.Transport, endpoint: endpoint, log: log}
	attempts, maxPause := d.MaxAttempts, d.MaxBackoff
	if attempts <= 0 {
		attempts = defaultMaxAttempts
	}
	if maxPause <= 0 {
		maxPause = defaultMaxBackoff
	}
	p.call = []gax.CallOption{gax.WithRetry(func() gax.Retryer { return newRetryer(attempts, maxPause) })}
	p.query = query(o.Filters)
	return p, nil
}

// sharedTransport is the base transport of drivers without an HTTPClient:
// one for the process, so that each sync does not open new connections.
var sharedTransport = sync.OnceValue(func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
})

type provider struct {
	opts     *Options
	creds    *auth.Credentials
	auth     http.RoundTripper // adds the access token
	endpoint []option.ClientOption
	call     []gax.CallOption
	query    string
	log      *slog.Logger
}

// clients returns Compute clients whose requests carry ctx. The client
// library's list calls build their HTTP requests without the caller's
// context, so a slow page would outlive a canceled sync; each Collect
// gets clients on a transport that adds its context instead.
func (p *provider) clients(ctx context.Context) (instancesAPI, disksAPI, func(), error) {
	hc := &http.Client{Transport: ctxTransport{ctx: ctx, next: p.auth}}
	opts := append([]option.ClientOption{option.WithHTTPClient(hc), option.WithLogger(discardLog)}, p.endpoint...)
	ic, err := compute.NewInstancesRESTClient(ctx, opts...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("create the Compute client: %w", err)
	}
	if !p.opts.RetrieveImageInfo {
		return ic, nil, func() { ic.Close() }, nil
	}
	dc, err := compute.NewDisksRESTClient(ctx, opts...)
	if err != nil {
		ic.Close()
		return nil, nil, nil, fmt.Errorf("create the Compute disks client: %w", err)
	}
	return ic, dc, func() { ic.Close(); dc.Close() }, nil
}

// ctxTransport gives requests made without a context the one of the
// Collect they belong to.
type ctxTransport struct {
	ctx  context.Context
	next http.RoundTripper
}

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Context().Done() == nil {
		r = r.WithContext(t.ctx)
	}
	return t.next.RoundTrip(r)
}

// Concurrency bounds the projects fetched at once.
func (p *provider) Concurrency() int { return p.opts.Concurrency }

// Scopes implements sources.Provider: the configured projects. It first
// gets the access token, so that a key the token endpoint refuses fails
// the run with one clear message.
func (p *provider) Scopes(ctx context.Context) ([]string, error) {
	if _, err := p.creds.Token(ctx); err != nil {
		return nil, err
	}
	return p.opts.Projects, nil
}

// Collect implements sources.Provider: every instance of one project that
// the filters select (in the zones given, or all).
func (p *provider) Collect(ctx context.Context, project string) ([]sources.Instance, error) {
	return sources.CollectAll(ctx, p, project)
}

var _ sources.PageCollector = (*provider)(nil)

// CollectPages hands the instances over as they are translated, a handful
// at a time (sources.Pager).
func (p *provider) CollectPages(ctx context.Context, project string, page func([]sources.Instance) error) error {
	start := time.Now()
	n := 0
	err := p.collect(ctx, project, func(insts []sources.Instance) error {
		n += len(insts)
		return page(insts)
	})
	if err != nil {
		return err
	}
	p.log.Debug("gcp project listed", "project", project, "instances", n, "duration", time.Since(start))
	return nil
}

func (p *provider) collect(ctx context.Context, project string, page func([]sources.Instance) error) error {
	instances, disks, done, err := p.clients(ctx)
	if err != nil {
		return err
	}
	defer done()
	var images map[string]string
	if disks != nil {
		if images, err = p.bootImages(ctx, disks, project); err != nil {
			return err
		}
	}
	pager := sources.NewPager(page)
	add := func(in *computepb.Instance) error {
		pager.Add(p.instance(project, in, images))
		return pager.Err()
	}
	if len(p.opts.Zones) == 0 {
		req := &computepb.AggregatedListInstancesRequest{Project: project, MaxResults: proto.Uint32(pageSize)}
		if p.query != "" {
			req.Filter = proto.String(p.query)
		}
		it := instances.AggregatedList(ctx, req, p.call...)
		for {
			pair, err := it.Next()
			if errors.Is(err, iterator.Done) {
				break
			}
			if err != nil {
				return fmt.Errorf("list instances (aggregated): %w", explain(err))
			}
			for _, in := range pair.Value.GetInstances() {
				if err := add(in); err != nil {
					return err
				}
			}
		}
		return pager.Flush()
	}
	for _, zone := range p.opts.Zones {
		req := &computepb.ListInstancesRequest{Project: project, Zone: zone, MaxResults: proto.Uint32(pageSize)}
		if p.query != "" {
			req.Filter = proto.String(p.query)
		}
		it := instances.List(ctx, req, p.call...)
		for {
			in, err := it.Next()
			if errors.Is(err, iterator.Done) {
				break
			}
			if err != nil {
				return fmt.Errorf("list instances of zone %s: %w", zone, explain(err))
			}
			if err := add(in); err != nil {
				return err
			}
		}
	}
	return pager.Flush()
}

// bootImages maps each disk of the project to the name of the image it
// was created from (retrieve_image_info), as the plugin does: the last
// part of sourceImage, else the disk's own name.
func (p *provider) bootImages(ctx context.Context, disks disksAPI, project string) (map[string]string, error) {
	req := &computepb.AggregatedListDisksRequest{Project: project, MaxResults: proto.Uint32(pageSize)}
	it := disks.AggregatedList(ctx, req, p.call...)
	images := map[string]string{}
	for {
		pair, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return images, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list disks (retrieve_image_info): %w", explain(err))
		}
		for _, d := range pair.Value.GetDisks() {
			if img := d.GetSourceImage(); img != "" {
				images[d.GetSelfLink()] = lastSegment(img)
			} else {
				images[d.GetSelfLink()] = lastSegment(d.GetSelfLink())
			}
		}
	}
}

func (p *provider) instance(project string, in *computepb.Instance, images map[string]string) sources.Instance {
	address := publicIP(in)
	if address == "" {
		address = privateIP(in)
	}
	image := ""
	if images != nil {
		for _, d := range in.GetDisks() {
			if d.GetBoot() {
				image = images[d.GetSource()]
			}
		}
	}
	return sources.Instance{
		ExternalID: strconv.FormatUint(in.GetId(), 10),
		Hostnames:  hostnames(in, p.opts),
		Address:    address,
		Enabled:    in.GetStatus() == "RUNNING",
		Vars:       hostVars(in, project, image, p.opts),
		// vars_prefix names the stored vars; compose sees the instance.
		VarsPrefix:           p.opts.VarsPrefix,
		ComposeSeesUnwrapped: true,
	}
}

// explain shortens a Compute API error to its status, reason and message,
// which is what an operator needs; the full error stays wrapped. A failed
// token exchange is reported as it is.
func explain(err error) error {
	var te *tokenError
	if errors.As(err, &te) {
		return te
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		reason := ""
		if len(ge.Errors) > 0 {
			reason = ge.Errors[0].Reason
		}
		msg := ge.Message
		if msg == "" {
			msg = http.StatusText(ge.Code)
		}
		return &apiError{code: ge.Code, reason: reason, msg: safeText(msg), err: err}
	}
	return err
}

type apiError struct {
	code        int
	reason, msg string
	err         error
}

func (e *apiError) Error() string {
	s := fmt.Sprintf("%d", e.code)
	if e.reason != "" {
		s += " " + e.reason
	}
	return s + ": " + e.msg
}

func (e *apiError) Unwrap() error { return e.err }
