package aws

import "testing"

func TestCamelToSnake(t *testing.T) {
	// Expected values are what ansible's _camel_to_snake returns.
	for in, want := range map[string]string{
		"InstanceId":                       "instance_id",
		"PublicIpAddress":                  "public_ip_address",
		"AmiLaunchIndex":                   "ami_launch_index",
		"EbsOptimized":                     "ebs_optimized",
		"Ipv6Address":                      "ipv6_address",
		"CpuOptions":                       "cpu_options",
		"TargetGroupARNs":                  "target_group_arns",
		"HttpPutResponseHopLimit":          "http_put_response_hop_limit",
		"IamInstanceProfile":               "iam_instance_profile",
		"DNSName":                          "dns_name",
		"State":                            "state",
		"CapacityReservationSpecification": "capacity_reservation_specification",
	} {
		if got := camelToSnake(in); got != want {
			t.Errorf("camelToSnake(%q) = %q, want %q", in, got, want)
		}
	}
}
