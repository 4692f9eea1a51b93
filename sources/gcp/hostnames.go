package gcp

import (
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
)

// hostnames returns the instance's name for each preference, "" where it
// has none, in the order the source prefers them (the plugin's rules):
//
//	public_ip   the first natIP of any network interface's access configs
//	private_ip  the first networkIP
//	name        the instance name, plus name_suffix
//	hostname    the custom hostname, else the name plus name_suffix
//	labels.KEY  the value of label KEY
func hostnames(in *computepb.Instance, o *Options) []string {
	names := make([]string, len(o.Hostnames))
	for i, p := range o.Hostnames {
		switch p {
		case "public_ip":
			names[i] = publicIP(in)
		case "private_ip":
			names[i] = privateIP(in)
		case "name":
			names[i] = in.GetName() + o.NameSuffix
		case "hostname":
			if in.Hostname != nil {
				names[i] = in.GetHostname()
			} else {
				names[i] = in.GetName() + o.NameSuffix
			}
		default:
			if key, ok := strings.CutPrefix(p, "labels."); ok {
				names[i] = in.GetLabels()[key]
			}
		}
	}
	return names
}

func publicIP(in *computepb.Instance) string {
	for _, n := range in.GetNetworkInterfaces() {
		for _, ac := range n.GetAccessConfigs() {
			if ac.NatIP != nil {
				return ac.GetNatIP()
			}
		}
	}
	return ""
}

func privateIP(in *computepb.Instance) string {
	for _, n := range in.GetNetworkInterfaces() {
		if n.NetworkIP != nil {
			return n.GetNetworkIP()
		}
	}
	return ""
}
