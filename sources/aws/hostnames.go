package aws

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/rosterhq/roster/sources/construct"
)

// hostnameAttrs maps the plugin's hostname preferences (EC2 filter names)
// to the instance attribute they read.
var hostnameAttrs = map[string]func(*types.Instance) string{
	"dns-name":           func(i *types.Instance) string { return deref(i.PublicDnsName) },
	"private-dns-name":   func(i *types.Instance) string { return deref(i.PrivateDnsName) },
	"ip-address":         func(i *types.Instance) string { return deref(i.PublicIpAddress) },
	"private-ip-address": func(i *types.Instance) string { return deref(i.PrivateIpAddress) },
	"instance-id":        func(i *types.Instance) string { return deref(i.InstanceId) },
	"image-id":           func(i *types.Instance) string { return deref(i.ImageId) },
	"key-name":           func(i *types.Instance) string { return deref(i.KeyName) },
	"subnet-id":          func(i *types.Instance) string { return deref(i.SubnetId) },
	"vpc-id":             func(i *types.Instance) string { return deref(i.VpcId) },
	"instance-type":      func(i *types.Instance) string { return string(i.InstanceType) },
	"architecture":       func(i *types.Instance) string { return string(i.Architecture) },
	"ipv6-address":       func(i *types.Instance) string { return deref(i.Ipv6Address) },
	"availability-zone": func(i *types.Instance) string {
		if i.Placement == nil {
			return ""
		}
		return deref(i.Placement.AvailabilityZone)
	},
	"network-interface.addresses.association.public-ip": func(i *types.Instance) string {
		for _, n := range i.NetworkInterfaces {
			for _, a := range n.PrivateIpAddresses {
				if a.Association != nil && deref(a.Association.PublicIp) != "" {
					return *a.Association.PublicIp
				}
			}
		}
		return ""
	},
	"network-interface.addresses.private-ip-address": nicField(func(n types.InstanceNetworkInterface) string { return deref(n.PrivateIpAddress) }),
	"network-interface.association.public-ip": nicField(func(n types.InstanceNetworkInterface) string {
		if n.Association == nil {
			return ""
		}
		return deref(n.Association.PublicIp)
	}),
	"network-interface.association.ip-owner-id": nicField(func(n types.InstanceNetworkInterface) string {
		if n.Association == nil {
			return ""
		}
		return deref(n.Association.IpOwnerId)
	}),
	"network-interface.attachment.attachment-id": nicField(func(n types.InstanceNetworkInterface) string {
		if n.Attachment == nil {
			return ""
		}
		return deref(n.Attachment.AttachmentId)
	}),
	"network-interface.attachment.status": nicField(func(n types.InstanceNetworkInterface) string {
		if n.Attachment == nil {
			return ""
		}
		return string(n.Attachment.Status)
	}),
	"network-interface.attachment.instance-id": func(i *types.Instance) string { return deref(i.InstanceId) },
	"network-interface.availability-zone": func(i *types.Instance) string {
		if i.Placement == nil {
			return ""
		}
		return deref(i.Placement.AvailabilityZone)
	},
	"network-interface.description": nicField(func(n types.InstanceNetworkInterface) string { return deref(n.Description) }),
	"network-interface.ipv6-addresses.ipv6-address": nicField(func(n types.InstanceNetworkInterface) string {
		for _, a := range n.Ipv6Addresses {
			if ip := deref(a.Ipv6Address); ip != "" {
				return ip
			}
		}
		return ""
	}),
	"network-interface.mac-address":          nicField(func(n types.InstanceNetworkInterface) string { return deref(n.MacAddress) }),
	"network-interface.network-interface-id": nicField(func(n types.InstanceNetworkInterface) string { return deref(n.NetworkInterfaceId) }),
	"network-interface.owner-id":             nicField(func(n types.InstanceNetworkInterface) string { return deref(n.OwnerId) }),
	"network-interface.private-dns-name":     nicField(func(n types.InstanceNetworkInterface) string { return deref(n.PrivateDnsName) }),
	"network-interface.status":               nicField(func(n types.InstanceNetworkInterface) string { return string(n.Status) }),
	"network-interface.subnet-id":            nicField(func(n types.InstanceNetworkInterface) string { return deref(n.SubnetId) }),
	"network-interface.vpc-id":               nicField(func(n types.InstanceNetworkInterface) string { return deref(n.VpcId) }),
	"platform":                               func(i *types.Instance) string { return string(i.Platform) },
	"hypervisor":                             func(i *types.Instance) string { return string(i.Hypervisor) },
	"kernel-id":                              func(i *types.Instance) string { return deref(i.KernelId) },
	"ramdisk-id":                             func(i *types.Instance) string { return deref(i.RamdiskId) },
	"root-device-name":                       func(i *types.Instance) string { return deref(i.RootDeviceName) },
	"root-device-type":                       func(i *types.Instance) string { return string(i.RootDeviceType) },
	"virtualization-type":                    func(i *types.Instance) string { return string(i.VirtualizationType) },
	"instance-lifecycle":                     func(i *types.Instance) string { return string(i.InstanceLifecycle) },
	"spot-instance-request-id":               func(i *types.Instance) string { return deref(i.SpotInstanceRequestId) },
	"client-token":                           func(i *types.Instance) string { return deref(i.ClientToken) },
	"instance-state-name": func(i *types.Instance) string {
		if i.State == nil {
			return ""
		}
		return string(i.State.Name)
	},
	"placement-group-name": func(i *types.Instance) string {
		if i.Placement == nil {
			return ""
		}
		return deref(i.Placement.GroupName)
	},
	"tenancy": func(i *types.Instance) string {
		if i.Placement == nil {
			return ""
		}
		return string(i.Placement.Tenancy)
	},
}

// nicField reads a field of the first network interface that has it; the
// plugin reads it from every interface, which is the same for the usual
// single-interface instance.
func nicField(f func(types.InstanceNetworkInterface) string) func(*types.Instance) string {
	return func(i *types.Instance) string {
		for _, n := range i.NetworkInterfaces {
			if v := f(n); v != "" {
				return v
			}
		}
		return ""
	}
}

// hostnames returns the instance's name for each preference, "" where it
// has none, in the order the source prefers them.
func hostnames(inst *types.Instance, prefs []Hostname) []string {
	names := make([]string, len(prefs))
	for i, p := range prefs {
		name := preference(inst, p.Name)
		if name != "" && p.Prefix != "" {
			if prefix := preference(inst, p.Prefix); prefix != "" {
				name = prefix + p.Separator + name
			}
		}
		if strings.Contains(name, ":") {
			// The plugin sanitises names holding a colon (IPv6, tag
			// values) like group names.
			name = construct.SafeGroupName(name)
		}
		names[i] = name
	}
	return names
}

func preference(inst *types.Instance, p string) string {
	if spec, ok := strings.CutPrefix(p, "tag:"); ok {
		return tagHostname(inst, spec)
	}
	if f := hostnameAttrs[p]; f != nil {
		return f(inst)
	}
	// Neither a tag nor an attribute: the name itself, as the plugin
	// (amazon.aws 5+) uses a literal ("aws" as a prefix, say).
	return p
}

// tagHostname implements "tag:Name" (the tag's value) and
// "tag:Name=web,Env=prod" (Key_Value of the first pair that matches).
func tagHostname(inst *types.Instance, spec string) string {
	for _, want := range strings.Split(spec, ",") {
		key, value, pair := strings.Cut(want, "=")
		for _, t := range inst.Tags {
			if deref(t.Key) != key {
				continue
			}
			switch v := deref(t.Value); {
			case pair && v == value:
				return key + "_" + value
			case !pair && v != "":
				return v
			}
		}
	}
	return ""
}
