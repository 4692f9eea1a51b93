package construct

import (
	"fmt"
	"path/filepath"
	"testing"
)

// benchHosts makes n aws_ec2-shaped hosts from the fixture, varying the
// values that keyed groups read.
func benchHosts(b *testing.B, n int) []map[string]any {
	base := loadJSON(b, filepath.Join("testdata", "hosts_aws_ec2.json")).([]any)
	hosts := make([]map[string]any, n)
	for i := range hosts {
		src := base[i%len(base)].(map[string]any)
		h := make(map[string]any, len(src))
		for k, v := range src {
			h[k] = v
		}
		tags := map[string]any{"Name": fmt.Sprintf("host-%d", i), "Role": []string{"web", "db", "cache"}[i%3], "Application": fmt.Sprintf("app%d", i%20)}
		h["tags"] = tags
		h["instance_id"] = fmt.Sprintf("i-%017x", i)
		h["private_ip_address"] = fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		hosts[i] = h
	}
	return hosts
}

func benchApply(b *testing.B, options string) {
	cfg := loadJSON(b, filepath.Join("testdata", "options", options+".json")).(map[string]any)
	c, err := Parse(cfg)
	if err != nil {
		b.Fatal(err)
	}
	hosts := benchHosts(b, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, h := range hosts {
			if _, err := c.Apply(h); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(hosts)), "ns/host")
}

// BenchmarkApplyAWSDoc applies the amazon.aws.aws_ec2 documentation's
// constructed example to 1,000 hosts per op.
func BenchmarkApplyAWSDoc(b *testing.B) { benchApply(b, "aws_ec2_doc") }

// BenchmarkApplyAWXCompat applies the heavy AWX-compatible option set
// (44 compose entries, 11 keyed groups) to 1,000 hosts per op.
func BenchmarkApplyAWXCompat(b *testing.B) { benchApply(b, "awx_ec2_compat") }
