package aws

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/rosterhq/roster/sources/construct"
)

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

// TestTimestampsAreDatetimes: boto3 parses every timestamp member of
// DescribeInstances' Instance (botocore's ec2 model) into a datetime, so
// aws_ec2's templates see datetimes there, and ansible-inventory prints
// them with isoformat().
func TestTimestampsAreDatetimes(t *testing.T) {
	at := time.Date(2024, 1, 2, 3, 4, 5, 120_000_000, time.UTC)
	lt := time.Date(2024, 1, 2, 3, 4, 0, 0, time.UTC)
	inst := &types.Instance{
		InstanceId:                              aws.String("i-1"),
		LaunchTime:                              &lt,
		UsageOperationUpdateTime:                &lt,
		BlockDeviceMappings:                     []types.InstanceBlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"), Ebs: &types.EbsInstanceBlockDevice{AttachTime: &at}}},
		NetworkInterfaces:                       []types.InstanceNetworkInterface{{Attachment: &types.InstanceNetworkInterfaceAttachment{AttachTime: &at}}},
		ElasticInferenceAcceleratorAssociations: []types.ElasticInferenceAcceleratorAssociation{{ElasticInferenceAcceleratorAssociationTime: &at}},
	}
	vars := hostVars(inst, &types.Reservation{}, &Options{})
	b, err := json.Marshal(map[string]any{
		"launch_time":                 vars["launch_time"],
		"usage_operation_update_time": vars["usage_operation_update_time"],
		"ebs":                         vars["block_device_mappings"].([]any)[0].(map[string]any)["ebs"].(map[string]any)["attach_time"],
		"nic":                         vars["network_interfaces"].([]any)[0].(map[string]any)["attachment"].(map[string]any)["attach_time"],
		"eia":                         vars["elastic_inference_accelerator_associations"].([]any)[0].(map[string]any)["elastic_inference_accelerator_association_time"],
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"ebs":"2024-01-02T03:04:05.120000+00:00","eia":"2024-01-02T03:04:05.120000+00:00","launch_time":"2024-01-02T03:04:00+00:00",` +
		`"nic":"2024-01-02T03:04:05.120000+00:00","usage_operation_update_time":"2024-01-02T03:04:00+00:00"}`
	if string(b) != want {
		t.Errorf("JSON\n%s\nwant\n%s", b, want)
	}

	c, err := construct.Parse(map[string]any{
		"compose": map[string]any{
			"year":     "launch_time.year",
			"launched": "launch_time",
			"attached": "network_interfaces[0].attachment.attach_time | string",
		},
		"keyed_groups": []any{map[string]any{"key": "launch_time.strftime('%Y-%m')", "prefix": "launched"}},
		"strict":       true,
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Apply(vars)
	if err != nil {
		t.Fatal(err)
	}
	// As ansible-core 2.14 templates them over boto3's datetimes.
	wantVars := map[string]any{"year": "2024", "launched": "2024-01-02 03:04:00+00:00", "attached": "2024-01-02 03:04:05.120000+00:00"}
	if !reflect.DeepEqual(res.Vars, wantVars) {
		t.Errorf("composed %v, want %v", res.Vars, wantVars)
	}
	if !slices.Equal(res.Groups, []string{"launched_2024_01"}) {
		t.Errorf("groups %v", res.Groups)
	}
}
