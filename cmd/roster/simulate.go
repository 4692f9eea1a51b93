package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rosterhq/roster/sources/aws/awssim"
)

func newSimulateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Run a cloud simulator alone (no cloud account needed)",
	}
	cmd.AddCommand(newSimulateAWSCommand())
	return cmd
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
	f.IntVar(&faults.ThrottleEvery, "throttle-every", 0, "answer every Nth request with RequestLimitExceeded")
	f.Float64Var(&faults.ThrottleRate, "throttle-rate", 0, "answer this fraction of requests with RequestLimitExceeded")
	f.IntVar(&faults.ErrorEvery, "error-every", 0, "answer every Nth request with a 5xx")
	f.Float64Var(&faults.ErrorRate, "error-rate", 0, "answer this fraction of requests with a 5xx")
	f.DurationVar(&faults.Latency, "latency", 0*time.Millisecond, "delay every answer by this much")
	f.StringSliceVar(&faults.FailRegions, "fail-regions", nil, "regions that always answer 403 UnauthorizedOperation")
	f.IntVar(&faults.FailAfterPage, "fail-after-page", 0, "fail DescribeInstances pages after this one")
	f.StringSliceVar(&accessKey, "access-key", nil, "accept only these access key ids")
	return cmd
}
