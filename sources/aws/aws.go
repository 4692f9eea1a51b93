// Package aws syncs EC2 instances, with the options and host vars of the
// amazon.aws.aws_ec2 Ansible inventory plugin.
package aws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/rosterhq/roster/sources"
)

// ec2API names the calls the provider makes, so the dependency is plain.
type ec2API interface {
	ec2.DescribeInstancesAPIClient
	DescribeRegions(context.Context, *ec2.DescribeRegionsInput, ...func(*ec2.Options)) (*ec2.DescribeRegionsOutput, error)
}

// ec2Calls is the ec2API of one *ec2.Client, holding its two methods as
// method values. The *ec2.Client itself must never be stored in an
// interface: text/template and gonja call reflect's MethodByName, so the
// linker keeps every exported method of every type converted to an
// interface, and for *ec2.Client that is all ~750 EC2 operations with their
// serializers, about 40 MB of the roster binary
// (TestBinarySize in cmd/roster holds the bound).
type ec2Calls struct {
	describeInstances func(context.Context, *ec2.DescribeInstancesInput, ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	describeRegions   func(context.Context, *ec2.DescribeRegionsInput, ...func(*ec2.Options)) (*ec2.DescribeRegionsOutput, error)
}

func newEC2Calls(c *ec2.Client) ec2Calls {
	return ec2Calls{describeInstances: c.DescribeInstances, describeRegions: c.DescribeRegions}
}

func (c ec2Calls) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	return c.describeInstances(ctx, in, opts...)
}

func (c ec2Calls) DescribeRegions(ctx context.Context, in *ec2.DescribeRegionsInput, opts ...func(*ec2.Options)) (*ec2.DescribeRegionsOutput, error) {
	return c.describeRegions(ctx, in, opts...)
}

// bootstrapRegion is where region-less calls (DescribeRegions, STS) go
// unless the source's region option says otherwise.
const bootstrapRegion = "us-east-1"

func (o *Options) bootstrapRegion() string {
	if o.Region != "" {
		return o.Region
	}
	return bootstrapRegion
}

// pageSize is DescribeInstances' largest page.
const pageSize = 1000

// defaultStates is the plugin's instance-state-name filter when the user
// gives none: everything but terminated and shutting-down instances.
var defaultStates = []string{"running", "pending", "stopping", "stopped"}

// Driver builds AWS providers.
type Driver struct {
	// HTTPClient, when set, is used for every AWS call (tests, proxies).
	HTTPClient *http.Client
	// MaxAttempts bounds the SDK retryer's attempts per call (0: 8).
	MaxAttempts int
	// MaxBackoff caps the delay between retries (0: the SDK's 20s).
	MaxBackoff time.Duration
	// Credentials, when set, replace the default credential chain for
	// every source (the demo and tests use the simulator's keys this way;
	// nothing is stored). An assumed role still wraps them.
	Credentials aws.CredentialsProvider
}

// Name implements sources.Driver.
func (Driver) Name() string { return "aws" }

// SecretOptions implements sources.SecretHolder.
func (Driver) SecretOptions() []string { return slices.Clone(secretOptions) }

// PluginNames implements sources.Driver.
func (Driver) PluginNames() []string { return []string{"amazon.aws.aws_ec2", "aws_ec2"} }

// CredentialRoutingOptions implements sources.CredentialRouter: the
// endpoint receives every signed request.
func (Driver) CredentialRoutingOptions() []string {
	return []string{"endpoint_url", "aws_endpoint_url", "endpoint"}
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

// Open implements sources.Driver. Credentials are the source's aws
// credential (keys and/or a role) when it has one, else the environment /
// default chain (or the named profile); iam_role_arn, or else the
// credential's role_arn, is assumed on top through STS.
func (d Driver) Open(ctx context.Context, cfg map[string]any, cred *sources.Credential, log *slog.Logger) (sources.Provider, error) {
	o, err := parseOptions(cfg)
	if err != nil {
		return nil, err
	}
	maxAttempts := d.MaxAttempts
	if maxAttempts == 0 {
		maxAttempts = 8
	}
	load := []func(*config.LoadOptions) error{
		config.WithRegion(o.bootstrapRegion()),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = maxAttempts
				if d.MaxBackoff > 0 {
					so.MaxBackoff = d.MaxBackoff
				}
			})
		}),
	}
	if o.Profile != "" {
		load = append(load, config.WithSharedConfigProfile(o.Profile))
	}
	if d.HTTPClient != nil {
		load = append(load, config.WithHTTPClient(d.HTTPClient))
	}
	if o.EndpointURL != "" {
		load = append(load, config.WithBaseEndpoint(o.EndpointURL))
	}
	switch {
	case cred.Field("access_key_id") != "":
		load = append(load, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(
			cred.Field("access_key_id").Reveal(), cred.Field("secret_access_key").Reveal(), cred.Field("session_token").Reveal())))
	case d.Credentials != nil:
		load = append(load, config.WithCredentialsProvider(d.Credentials))
	}
	role := o.IAMRoleARN
	if role == "" {
		role = cred.Field("role_arn").Reveal()
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	awsCfg.HTTPClient = shieldBodies(awsCfg.HTTPClient)
	if role != "" {
		stsClient := sts.NewFromConfig(awsCfg)
		awsCfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, role, func(ao *stscreds.AssumeRoleOptions) {
			ao.RoleSessionName = "roster-inventory-sync"
		}))
	}
	return &provider{opts: o, cfg: awsCfg, log: log}, nil
}

type provider struct {
	opts *Options
	cfg  aws.Config
	log  *slog.Logger
}

func (p *provider) client(region string) ec2API {
	return newEC2Calls(ec2.NewFromConfig(p.cfg, func(o *ec2.Options) { o.Region = region }))
}

// Scopes implements sources.Provider: the configured regions, or every
// region the account sees.
func (p *provider) Scopes(ctx context.Context) ([]string, error) {
	if len(p.opts.Regions) > 0 {
		return p.opts.Regions, nil
	}
	out, err := p.client(p.opts.bootstrapRegion()).DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	if err != nil {
		return nil, fmt.Errorf("list regions: %w", explain(err))
	}
	regions := make([]string, 0, len(out.Regions))
	for _, r := range out.Regions {
		regions = append(regions, deref(r.RegionName))
	}
	slices.Sort(regions)
	return regions, nil
}

// Collect implements sources.Provider: every instance of one region that
// matches filters or one of include_filters and none of exclude_filters.
func (p *provider) Collect(ctx context.Context, region string) ([]sources.Instance, error) {
	return sources.CollectAll(ctx, p, region)
}

var _ sources.PageCollector = (*provider)(nil)

// CollectPages hands the instances over as they are translated, a handful
// at a time (sources.Pager).
func (p *provider) CollectPages(ctx context.Context, region string, page func([]sources.Instance) error) error {
	c := p.client(region)
	ignore := make(map[string]bool)
	for _, f := range p.opts.ExcludeFilters {
		err := describe(ctx, c, f, func(_ *types.Reservation, inst *types.Instance) {
			ignore[deref(inst.InstanceId)] = true
		}, nil)
		if err != nil {
			return err
		}
	}
	pager := sources.NewPager(page)
	for _, f := range includeFilters(p.opts) {
		err := describe(ctx, c, f, func(res *types.Reservation, inst *types.Instance) {
			id := deref(inst.InstanceId)
			if ignore[id] {
				return
			}
			ignore[id] = true // an instance matching two include entries is listed once
			pager.Add(p.instance(res, inst))
		}, pager.Err)
		if err != nil {
			return err
		}
	}
	return pager.Flush()
}

func (p *provider) instance(res *types.Reservation, inst *types.Instance) sources.Instance {
	address := deref(inst.PublicIpAddress)
	if address == "" {
		address = deref(inst.PrivateIpAddress)
	}
	return sources.Instance{
		ExternalID: deref(inst.InstanceId),
		Hostnames:  hostnames(inst, p.opts.Hostnames),
		AllNames:   p.opts.AllowDuplicatedHosts,
		Address:    address,
		Enabled:    inst.State != nil && inst.State.Name == types.InstanceStateNameRunning,
		Groups:     []string{"aws_ec2"},
		Vars:       hostVars(inst, res, p.opts),
		VarsPrefix: p.opts.HostvarsPrefix,
		VarsSuffix: p.opts.HostvarsSuffix,
	}
}

// includeFilters is the plugin's list of queries: filters, then each of
// include_filters; one empty query when there are none.
func includeFilters(o *Options) []Filters {
	var out []Filters
	if len(o.Filters) > 0 {
		out = append(out, o.Filters)
	}
	out = append(out, o.IncludeFilters...)
	if len(out) == 0 {
		out = append(out, Filters{})
	}
	return out
}

// describe pages through DescribeInstances for one query and calls fn for
// each instance. An error on any page fails the whole query.
// describe calls fn with each instance DescribeInstances lists under f,
// and pageDone (when not nil) after each page; an error of pageDone ends
// it.
func describe(ctx context.Context, c ec2API, f Filters, fn func(*types.Reservation, *types.Instance), pageDone func() error) error {
	in := &ec2.DescribeInstancesInput{Filters: ec2Filters(f), MaxResults: aws.Int32(pageSize)}
	pages := ec2.NewDescribeInstancesPaginator(c, in)
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("describe instances: %w", explain(err))
		}
		for i := range out.Reservations {
			res := &out.Reservations[i]
			for j := range res.Instances {
				fn(res, &res.Instances[j])
			}
		}
		if pageDone != nil {
			if err := pageDone(); err != nil {
				return err
			}
		}
	}
	return nil
}

func ec2Filters(f Filters) []types.Filter {
	out := make([]types.Filter, 0, len(f)+1)
	hasState := false
	for _, name := range sortedKeys(f) {
		hasState = hasState || name == "instance-state-name"
		out = append(out, types.Filter{Name: aws.String(name), Values: f[name]})
	}
	if !hasState {
		out = append(out, types.Filter{Name: aws.String("instance-state-name"), Values: defaultStates})
	}
	return out
}

// explain shortens SDK errors to the API's code and message, which is what
// an operator needs; the full error (request ids, retries) stays wrapped.
func explain(err error) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		return &apiError{code: api.ErrorCode(), msg: api.ErrorMessage(), err: err}
	}
	return err
}

type apiError struct {
	code, msg string
	err       error
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }
func (e *apiError) Unwrap() error { return e.err }
