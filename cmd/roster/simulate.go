package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rosterhq/roster/internal/cloudsim"
	"github.com/rosterhq/roster/sources/aws/awssim"
	"github.com/rosterhq/roster/sources/azure/azuresim"
	"github.com/rosterhq/roster/sources/gcp/gcpsim"
	"github.com/rosterhq/roster/sources/openstack/openstacksim"
)

func newSimulateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Run a cloud simulator alone (no cloud account needed)",
	}
	cmd.AddCommand(newSimulateAWSCommand(), newSimulateGCPCommand(), newSimulateAzureCommand(), newSimulateOpenStackCommand())
	return cmd
}

func newSimulateGCPCommand() *cobra.Command {
	var (
		listen   string
		size     int
		projects []string
		seed     int64
		faults   gcpsim.Faults
		keyFile  string
	)
	cmd := &cobra.Command{
		Use:   "gcp",
		Short: "Serve a simulated Compute Engine fleet over the Compute REST API, with an OAuth2 token endpoint",
		Long: `Serve a simulated Compute Engine fleet (instances.aggregatedList and
zones/*/instances) and an OAuth2 token endpoint that verifies the service
account's signed JWT. The service account key is written to --key-file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			sim, err := gcpsim.New(gcpsim.Options{Seed: seed, Size: size, Projects: projects, Faults: faults, Logger: log})
			if err != nil {
				return err
			}
			url, stop, err := sim.Start(cmd.Context(), listen)
			if err != nil {
				return err
			}
			defer stop()
			if err := os.WriteFile(keyFile, sim.KeyFile(url), 0o600); err != nil {
				return fmt.Errorf("write the service account key: %w", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Compute Engine simulator: %d instances in projects %s at %s\n\n", sim.Fleet().Len(), strings.Join(sim.Fleet().Projects(), ", "), url)
			fmt.Fprintf(out, "Service account key (its token endpoint is the simulator's): %s\n", keyFile)
			fmt.Fprintf(out, "  export GOOGLE_APPLICATION_CREDENTIALS=%s\n", keyFile)
			fmt.Fprintf(out, "or give a Roster gcp source the options  projects: %v, endpoint_url: %s\n\nCtrl-C stops it.\n", sim.Fleet().Projects(), url)
			<-cmd.Context().Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:4567", "address to listen on")
	f.IntVar(&size, "size", 500, "number of instances")
	f.StringSliceVar(&projects, "projects", []string{"roster-prod", "roster-staging"}, "projects the fleet spreads over")
	f.Int64Var(&seed, "seed", 1, "seed of the generated fleet")
	f.StringVar(&keyFile, "key-file", "gcp-simulator-key.json", "where to write the service account key")
	addFaultFlags(f, &faults, "deny-projects")
	return cmd
}

func newSimulateAzureCommand() *cobra.Command {
	var (
		listen        string
		size          int
		scaleSets     int
		subscriptions []string
		seed          int64
		faults        azuresim.Faults
		caFile        string
	)
	cmd := &cobra.Command{
		Use:   "azure",
		Short: "Serve simulated Azure VMs over Resource Manager and the identity platform (TLS)",
		Long: `Serve simulated Azure virtual machines, network interfaces, public IPs and
scale sets over Azure Resource Manager's JSON API, and the identity
platform's client-credential token endpoint, over TLS with a throwaway CA
written to --ca-file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			sim := azuresim.New(azuresim.Options{Seed: seed, Size: size, ScaleSets: scaleSets, Subscriptions: subscriptions, Faults: faults, Logger: log})
			url, stop, err := sim.Start(cmd.Context(), listen)
			if err != nil {
				return err
			}
			defer stop()
			if err := os.WriteFile(caFile, sim.CACertificatePEM(), 0o644); err != nil {
				return fmt.Errorf("write the CA certificate: %w", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Azure simulator: %d VMs in subscriptions %s at %s\n\n", sim.Fleet().Len(), strings.Join(sim.Fleet().Subscriptions(), ", "), url)
			fmt.Fprintf(out, "Its TLS certificate is signed by the CA in %s. Try it:\n", caFile)
			fmt.Fprintf(out, "  export SSL_CERT_FILE=%s AZURE_TENANT_ID=%s AZURE_CLIENT_ID=%s AZURE_CLIENT_SECRET=%s\n", caFile, sim.TenantID(), sim.ClientID(), sim.ClientSecret())
			fmt.Fprintf(out, "and give a Roster azure source  subscriptions: %v, authority_host: %s, arm_endpoint: %s\n", sim.Fleet().Subscriptions(), url, url)
			fmt.Fprintf(out, "(roster serve must run with that SSL_CERT_FILE, or trust the CA some other way).\n\nCtrl-C stops it.\n")
			<-cmd.Context().Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:4569", "address to listen on")
	f.IntVar(&size, "size", 500, "number of VMs")
	f.IntVar(&scaleSets, "scale-sets", 2, "number of scale sets")
	f.StringSliceVar(&subscriptions, "subscriptions", nil, "subscription ids (default: the simulator's)")
	f.Int64Var(&seed, "seed", 1, "seed of the generated fleet")
	f.StringVar(&caFile, "ca-file", "azure-simulator-ca.pem", "where to write the CA certificate")
	addFaultFlags(f, &faults, "fail-subscriptions")
	return cmd
}

func newSimulateOpenStackCommand() *cobra.Command {
	var (
		listen   string
		size     int
		regions  []string
		projects []string
		seed     int64
		faults   openstacksim.Faults
	)
	cmd := &cobra.Command{
		Use:   "openstack",
		Short: "Serve a simulated OpenStack cloud (Keystone v3, Nova, Glance)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			sim := openstacksim.New(openstacksim.Options{Seed: seed, Size: size, Regions: regions, Projects: projects, Faults: faults, Logger: log})
			url, stop, err := sim.Start(cmd.Context(), listen)
			if err != nil {
				return err
			}
			defer stop()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "OpenStack simulator: %d servers in %s at %s\n\n", sim.Fleet().Len(), strings.Join(sim.Fleet().Regions(), ", "), url)
			fmt.Fprintf(out, "Try it:\n  export OS_AUTH_URL=%s OS_USERNAME=%s OS_PASSWORD=%s OS_PROJECT_NAME=%s OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default\n",
				openstacksim.AuthURL(url), openstacksim.DefaultUser, openstacksim.DefaultPassword, sim.Fleet().Projects()[0])
			fmt.Fprintf(out, "  openstack server list\nor create a Roster openstack credential with those values.\n\nCtrl-C stops it.\n")
			<-cmd.Context().Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:4568", "address to listen on")
	f.IntVar(&size, "size", 500, "number of servers")
	f.StringSliceVar(&regions, "regions", nil, "regions (default: the simulator's)")
	f.StringSliceVar(&projects, "projects", nil, "projects (default: the simulator's)")
	f.Int64Var(&seed, "seed", 1, "seed of the generated fleet")
	addFaultFlags(f, &faults, "down-regions")
	aliasFlag(f, "over-limit-every", "throttle-every")
	f.IntVar(&faults.ThrottleStatus, "throttle-status", 413, "status of a throttled answer: 413 or 429")
	f.IntVar(&faults.ExpireTokensAfter, "expire-tokens-after", 0, "refuse a token after it served this many requests")
	return cmd
}

// addFaultFlags registers the fault flags every simulator takes, so that
// `roster simulate <cloud>` is driven the same way for each cloud (see
// cloudsim.Faults for what each does in a cloud's terms). scopeAlias is
// the name the cloud's --deny-scopes had before the simulators shared
// their fault injection, kept working.
func addFaultFlags(f *pflag.FlagSet, faults *cloudsim.Faults, scopeAlias string) {
	f.DurationVar(&faults.Latency, "latency", 0, "delay every answer by this much")
	f.IntVar(&faults.ThrottleEvery, "throttle-every", 0, "throttle every Nth request (the cloud's rate-limit error)")
	f.Float64Var(&faults.ThrottleRate, "throttle-rate", 0, "throttle this fraction of requests")
	f.DurationVar(&faults.RetryAfter, "retry-after", 0, "the Retry-After of a throttled answer (default 1s)")
	f.IntVar(&faults.ErrorEvery, "error-every", 0, "answer every Nth request with a 5xx")
	f.Float64Var(&faults.ErrorRate, "error-rate", 0, "answer this fraction of requests with a 5xx")
	f.StringSliceVar(&faults.DenyScopes, "deny-scopes", nil, "regions, projects or subscriptions that always answer the cloud's permission error")
	f.IntVar(&faults.FailAfterPage, "fail-after-page", 0, "fail list pages after this one, every time")
	f.StringSliceVar(&faults.Ops, "ops", nil, "limit latency, throttling, errors and failing pages to these operations")
	aliasFlag(f, scopeAlias, "deny-scopes")
}

// aliasFlag registers name as a hidden second name of the flag target.
func aliasFlag(f *pflag.FlagSet, name, target string) {
	t := f.Lookup(target)
	f.Var(t.Value, name, t.Usage+" (the same as --"+target+")")
	_ = f.MarkHidden(name)
}

// simAccessKey and simSecretKey are the credentials the demo and the
// printed instructions use with the simulator. They open nothing.
const (
	simAccessKey = "AKIAROSTERSIMULATOR0"
	simSecretKey = "roster-simulator-secret-key-not-a-secret"
)

func newSimulateAWSCommand() *cobra.Command {
	var (
		listen    string
		size      int
		regions   []string
		seed      int64
		faults    awssim.Faults
		accessKey []string
	)
	cmd := &cobra.Command{
		Use:   "aws",
		Short: "Serve a simulated EC2 fleet over EC2's Query API",
		Long: `Serve a simulated EC2 fleet over EC2's Query API (and STS AssumeRole), for
trying Roster or any EC2 client without an AWS account. Requests must be
SigV4-signed; any key works unless --access-key is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if size < 0 {
				return fmt.Errorf("--size must not be negative")
			}
			log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			sim := awssim.New(awssim.Options{Seed: seed, Size: size, Regions: regions, Faults: faults, AccessKeys: accessKey, Logger: log})
			url, stop, err := sim.Start(cmd.Context(), listen)
			if err != nil {
				return err
			}
			defer stop()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "EC2 simulator: %d instances in %s at %s\n\n", sim.Fleet().Len(), strings.Join(sim.Fleet().Regions(), ", "), url)
			fmt.Fprintf(out, "Try it:\n  export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s\n", simAccessKey, simSecretKey)
			fmt.Fprintf(out, "  aws --endpoint-url %s --region %s ec2 describe-instances --max-items 5\n", url, sim.Fleet().Regions()[0])
			fmt.Fprintf(out, "or give a Roster aws source the option  endpoint_url: %s\n\nCtrl-C stops it.\n", url)
			<-cmd.Context().Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:4566", "address to listen on")
	f.IntVar(&size, "size", 500, "number of instances")
	f.StringSliceVar(&regions, "regions", []string{"us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"}, "regions the fleet spreads over")
	f.Int64Var(&seed, "seed", 1, "seed of the generated fleet")
	addFaultFlags(f, &faults, "fail-regions")
	f.StringSliceVar(&accessKey, "access-key", nil, "accept only these access key ids")
	return cmd
}
