package awssim_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/rosterhq/roster/sources/aws/awssim"
)

// BenchmarkSDKDescribeInstancesPage measures a 1000-instance page end to
// end through the real SDK client; most of the time is the SDK's XML
// decoding, which is why an instance's XML is kept small.
func BenchmarkSDKDescribeInstancesPage(b *testing.B) {
	srv := awssim.New(awssim.Options{Seed: 1, Size: 1000, Regions: []string{"us-east-1"}, SettleDelay: -1})
	url, stop, err := srv.Start(b.Context(), "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	c := ec2ClientWith(url, config("us-east-1", static(testKey), 0))
	for b.Loop() {
		out, err := c.DescribeInstances(b.Context(), &ec2.DescribeInstancesInput{MaxResults: aws.Int32(1000)})
		if err != nil || len(out.Reservations) == 0 {
			b.Fatal(err)
		}
	}
}
