package gitops

// pluginProviders maps the Ansible inventory plugins a source's config
// may name in its plugin key to Roster's providers. It mirrors the
// drivers' PluginNames (sources/*/): a test checks that it does.
var pluginProviders = map[string]string{
	"amazon.aws.aws_ec2":          "aws",
	"aws_ec2":                     "aws",
	"google.cloud.gcp_compute":    "gcp",
	"gcp_compute":                 "gcp",
	"azure.azcollection.azure_rm": "azure",
	"azure_rm":                    "azure",
	"openstack.cloud.openstack":   "openstack",
	"openstack":                   "openstack",
}

// ProviderOfPlugin returns the provider of an Ansible inventory plugin
// name ("" for a plugin Roster has no provider for).
func ProviderOfPlugin(plugin string) string { return pluginProviders[plugin] }
