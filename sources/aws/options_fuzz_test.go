package aws

import (
	"testing"

	"github.com/rosterhq/roster/sources/sourcestest"
)

// FuzzConfig: see sourcestest.FuzzConfig.
func FuzzConfig(f *testing.F) {
	sourcestest.AddFiles(f, "../construct/testdata/options/aws_ec2_*.json")
	sourcestest.FuzzConfig(f, Driver{},
		`{}`,
		`{"plugin": "amazon.aws.aws_ec2", "regions": ["us-east-1", "eu-west-1"], "filters": {"tag:Env": "prod", "instance-type": ["t3.micro", "t3.small"]},
		  "hostnames": ["tag:Name", {"name": "private-ip-address", "prefix": "tag:Env", "separator": "-"}], "compose": {"ansible_host": "private_ip_address"},
		  "keyed_groups": [{"prefix": "tag", "key": "tags"}, {"key": "tags[\"Role\"]", "prefix": "role", "parent_group": "roles"}]}`,
		`{"regions": "eu-west-1", "include_filters": [{"tag:Role": "web"}], "exclude_filters": [{"instance-state-name": "stopped"}]}`,
		`{"assume_role_arn": "arn:aws:iam::123456789012:role/ro", "aws_profile": "prod", "strict_permissions": true, "concurrency": 4}`,
		`{"endpoint_url": "http://127.0.0.1:9", "hostvars_prefix": "ec2_", "hostvars_suffix": "_x", "use_contrib_script_compatible_ec2_tag_keys": true}`,
		`{"regions": ["us-east-1", "Mars"]}`, `{"regions": ["us-east-1", "us-east-1"]}`, `{"regions": {"a": 1}}`, `{"regoins": []}`,
		`{"aws_secret_access_key": "SECRET"}`, `{"profile": "a", "boto_profile": "b"}`, `{"filters": {"Not A Filter": "x"}}`,
		`{"filters": {"tag:Env": []}}`, `{"hostnames": ["dns-name", "fqdn"]}`, `{"hostnames": [{"prefix": "x"}]}`, `{"concurrency": 1e300}`,
		`{"plugin": "gcp_compute"}`, `{"strict_permissions": false}`, `{"compose": {"a": "'x' * 100000000"}}`,
		`{"keyed_groups": [{"key": "tags", "priority": 1, "parent_group": "{% for i in range(9) %}{{ i }}{% endfor %}"}]}`,
	)
}
