package gcp

import (
	"encoding/base64"
	"math"
	"strconv"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// hostVars turns an instance into the host vars the gcp_compute plugin
// emits: the instance resource in the API's JSON shape (camelCase names,
// 64-bit integers as strings), with zone and machineType shortened to
// their names (the URLs kept as zone_selflink and machineType_selflink),
// each network interface's network and subnetwork as {name, region,
// selfLink}, metadata flattened to a dict of its items, project, and image
// (the boot image's name with retrieve_image_info, else None).
//
// The conversion is written out field by field for the Instance message
// and the messages every instance carries; rarer nested messages go
// through the generic protoreflect conversion (protoMap), which follows
// protojson. TestHostVarsCoverEveryField proves the two agree on every
// field of this SDK version.
func hostVars(in *computepb.Instance, project, image string, o *Options) map[string]any {
	m := make(map[string]any, 48)
	instanceFields(m, in, true)
	if z, ok := m["zone"].(string); ok {
		m["zone_selflink"] = z
		m["zone"] = lastSegment(z)
	}
	if mt, ok := m["machineType"].(string); ok {
		m["machineType_selflink"] = mt
		m["machineType"] = lastSegment(mt)
	}
	m["project"] = project
	if image != "" {
		m["image"] = image
	} else {
		m["image"] = nil
	}
	return m
}

// networkInfo is the plugin's rewrite of a network or subnetwork URL.
func networkInfo(link string) map[string]any {
	parts := strings.Split(link, "/")
	region := ""
	for i, p := range parts {
		if p == "global" {
			region = "global"
			break
		}
		if p == "regions" && i+1 < len(parts) {
			region = parts[i+1]
			break
		}
	}
	return map[string]any{"region": region, "name": parts[len(parts)-1], "selfLink": link}
}

func lastSegment(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// instanceFields sets every field of the Instance message that is present,
// in protojson's shape; with plugin, metadata is flattened and network
// URLs are rewritten as the plugin does.
func instanceFields(m map[string]any, in *computepb.Instance, plugin bool) {
	putMsg(m, "advancedMachineFeatures", in.AdvancedMachineFeatures)
	putBool(m, "canIpForward", in.CanIpForward)
	putMsg(m, "confidentialInstanceConfig", in.ConfidentialInstanceConfig)
	putStr(m, "cpuPlatform", in.CpuPlatform)
	putStr(m, "creationTimestamp", in.CreationTimestamp)
	putBool(m, "deletionProtection", in.DeletionProtection)
	putStr(m, "description", in.Description)
	putList(m, "disks", in.Disks, attachedDisk)
	putMsg(m, "displayDevice", in.DisplayDevice)
	putStr(m, "fingerprint", in.Fingerprint)
	putMsgs(m, "guestAccelerators", in.GuestAccelerators)
	putStr(m, "hostname", in.Hostname)
	putUint64(m, "id", in.Id)
	putMsg(m, "instanceEncryptionKey", in.InstanceEncryptionKey)
	putStr(m, "keyRevocationActionType", in.KeyRevocationActionType)
	putStr(m, "kind", in.Kind)
	putStr(m, "labelFingerprint", in.LabelFingerprint)
	if len(in.Labels) > 0 {
		labels := make(map[string]any, len(in.Labels))
		for k, v := range in.Labels {
			labels[k] = v
		}
		m["labels"] = labels
	}
	putStr(m, "lastStartTimestamp", in.LastStartTimestamp)
	putStr(m, "lastStopTimestamp", in.LastStopTimestamp)
	putStr(m, "lastSuspendedTimestamp", in.LastSuspendedTimestamp)
	putStr(m, "localSsdEncryptionMode", in.LocalSsdEncryptionMode)
	putStr(m, "machineType", in.MachineType)
	if md := in.Metadata; md != nil && plugin {
		items := make(map[string]any, len(md.Items))
		for _, it := range md.Items {
			items[it.GetKey()] = it.GetValue()
		}
		m["metadata"] = items
	} else if md != nil {
		meta := make(map[string]any, 3)
		putStr(meta, "fingerprint", md.Fingerprint)
		putStr(meta, "kind", md.Kind)
		if len(md.Items) > 0 {
			items := make([]any, len(md.Items))
			for i, it := range md.Items {
				item := make(map[string]any, 2)
				putStr(item, "key", it.Key)
				putStr(item, "value", it.Value)
				items[i] = item
			}
			meta["items"] = items
		}
		m["metadata"] = meta
	}
	putStr(m, "minCpuPlatform", in.MinCpuPlatform)
	putStr(m, "name", in.Name)
	putList(m, "networkInterfaces", in.NetworkInterfaces, func(n *computepb.NetworkInterface) map[string]any {
		return networkInterface(n, plugin)
	})
	putMsg(m, "networkPerformanceConfig", in.NetworkPerformanceConfig)
	putMsg(m, "params", in.Params)
	putStr(m, "privateIpv6GoogleAccess", in.PrivateIpv6GoogleAccess)
	putMsg(m, "reservationAffinity", in.ReservationAffinity)
	putStrs(m, "resourcePolicies", in.ResourcePolicies)
	putMsg(m, "resourceStatus", in.ResourceStatus)
	putBool(m, "satisfiesPzi", in.SatisfiesPzi)
	putBool(m, "satisfiesPzs", in.SatisfiesPzs)
	if s := in.Scheduling; s != nil {
		m["scheduling"] = scheduling(s)
	}
	putStr(m, "selfLink", in.SelfLink)
	putList(m, "serviceAccounts", in.ServiceAccounts, func(sa *computepb.ServiceAccount) map[string]any {
		acct := make(map[string]any, 2)
		putStr(acct, "email", sa.Email)
		putStrs(acct, "scopes", sa.Scopes)
		return acct
	})
	if c := in.ShieldedInstanceConfig; c != nil {
		sc := make(map[string]any, 3)
		putBool(sc, "enableIntegrityMonitoring", c.EnableIntegrityMonitoring)
		putBool(sc, "enableSecureBoot", c.EnableSecureBoot)
		putBool(sc, "enableVtpm", c.EnableVtpm)
		m["shieldedInstanceConfig"] = sc
	}
	if p := in.ShieldedInstanceIntegrityPolicy; p != nil {
		pm := make(map[string]any, 1)
		putBool(pm, "updateAutoLearnPolicy", p.UpdateAutoLearnPolicy)
		m["shieldedInstanceIntegrityPolicy"] = pm
	}
	putStr(m, "sourceMachineImage", in.SourceMachineImage)
	putMsg(m, "sourceMachineImageEncryptionKey", in.SourceMachineImageEncryptionKey)
	putBool(m, "startRestricted", in.StartRestricted)
	putStr(m, "status", in.Status)
	putStr(m, "statusMessage", in.StatusMessage)
	if t := in.Tags; t != nil {
		tags := make(map[string]any, 2)
		putStr(tags, "fingerprint", t.Fingerprint)
		putStrs(tags, "items", t.Items)
		m["tags"] = tags
	}
	putMsg(m, "workloadIdentityConfig", in.WorkloadIdentityConfig)
	putStr(m, "zone", in.Zone)
}

func networkInterface(n *computepb.NetworkInterface, plugin bool) map[string]any {
	m := make(map[string]any, 10)
	putList(m, "accessConfigs", n.AccessConfigs, accessConfig)
	putList(m, "aliasIpRanges", n.AliasIpRanges, aliasRange)
	putList(m, "aliasIpv6Ranges", n.AliasIpv6Ranges, aliasRange)
	putBool(m, "enableVpcScopedDns", n.EnableVpcScopedDns)
	putStr(m, "fingerprint", n.Fingerprint)
	putStr(m, "igmpQuery", n.IgmpQuery)
	putInt32(m, "internalIpv6PrefixLength", n.InternalIpv6PrefixLength)
	putList(m, "ipv6AccessConfigs", n.Ipv6AccessConfigs, accessConfig)
	putStr(m, "ipv6AccessType", n.Ipv6AccessType)
	putStr(m, "ipv6Address", n.Ipv6Address)
	putStr(m, "kind", n.Kind)
	putStr(m, "name", n.Name)
	if n.Network != nil && plugin {
		m["network"] = networkInfo(*n.Network)
	} else {
		putStr(m, "network", n.Network)
	}
	putStr(m, "networkAttachment", n.NetworkAttachment)
	putStr(m, "networkIP", n.NetworkIP)
	putStr(m, "nicType", n.NicType)
	putStr(m, "parentNicName", n.ParentNicName)
	putInt32(m, "queueCount", n.QueueCount)
	putStr(m, "serviceClassId", n.ServiceClassId)
	putStr(m, "stackType", n.StackType)
	if n.Subnetwork != nil && plugin {
		m["subnetwork"] = networkInfo(*n.Subnetwork)
	} else {
		putStr(m, "subnetwork", n.Subnetwork)
	}
	putInt32(m, "vlan", n.Vlan)
	return m
}

func accessConfig(a *computepb.AccessConfig) map[string]any {
	m := make(map[string]any, 5)
	putStr(m, "externalIpv6", a.ExternalIpv6)
	putInt32(m, "externalIpv6PrefixLength", a.ExternalIpv6PrefixLength)
	putStr(m, "kind", a.Kind)
	putStr(m, "name", a.Name)
	putStr(m, "natIP", a.NatIP)
	putStr(m, "networkTier", a.NetworkTier)
	putStr(m, "publicPtrDomainName", a.PublicPtrDomainName)
	putStr(m, "securityPolicy", a.SecurityPolicy)
	putBool(m, "setPublicPtr", a.SetPublicPtr)
	putStr(m, "type", a.Type)
	return m
}

func aliasRange(r *computepb.AliasIpRange) map[string]any {
	m := make(map[string]any, 2)
	putStr(m, "ipCidrRange", r.IpCidrRange)
	putStr(m, "subnetworkRangeName", r.SubnetworkRangeName)
	return m
}

func attachedDisk(d *computepb.AttachedDisk) map[string]any {
	m := make(map[string]any, 14)
	putStr(m, "architecture", d.Architecture)
	putBool(m, "autoDelete", d.AutoDelete)
	putBool(m, "boot", d.Boot)
	putStr(m, "deviceName", d.DeviceName)
	putMsg(m, "diskEncryptionKey", d.DiskEncryptionKey)
	putInt64(m, "diskSizeGb", d.DiskSizeGb)
	putBool(m, "forceAttach", d.ForceAttach)
	putList(m, "guestOsFeatures", d.GuestOsFeatures, func(f *computepb.GuestOsFeature) map[string]any {
		fm := make(map[string]any, 1)
		putStr(fm, "type", f.Type)
		return fm
	})
	putInt32(m, "index", d.Index)
	putMsg(m, "initializeParams", d.InitializeParams)
	putStr(m, "interface", d.Interface)
	putStr(m, "kind", d.Kind)
	putStrs(m, "licenses", d.Licenses)
	putStr(m, "mode", d.Mode)
	putStr(m, "savedState", d.SavedState)
	putMsg(m, "shieldedInstanceInitialState", d.ShieldedInstanceInitialState)
	putStr(m, "source", d.Source)
	putStr(m, "type", d.Type)
	return m
}

func scheduling(s *computepb.Scheduling) map[string]any {
	m := make(map[string]any, 5)
	putBool(m, "automaticRestart", s.AutomaticRestart)
	putInt32(m, "availabilityDomain", s.AvailabilityDomain)
	putBool(m, "exposeHostTopology", s.ExposeHostTopology)
	putMsg(m, "gracefulShutdown", s.GracefulShutdown)
	putInt32(m, "hostErrorTimeoutSeconds", s.HostErrorTimeoutSeconds)
	putStr(m, "instanceTerminationAction", s.InstanceTerminationAction)
	putMsg(m, "localSsdRecoveryTimeout", s.LocalSsdRecoveryTimeout)
	putStr(m, "locationHint", s.LocationHint)
	putMsg(m, "maxRunDuration", s.MaxRunDuration)
	putInt32(m, "minNodeCpus", s.MinNodeCpus)
	putMsgs(m, "nodeAffinities", s.NodeAffinities)
	putStr(m, "onHostMaintenance", s.OnHostMaintenance)
	putMsg(m, "onInstanceStopAction", s.OnInstanceStopAction)
	putBool(m, "preemptible", s.Preemptible)
	putMsg(m, "preemptionNoticeDuration", s.PreemptionNoticeDuration)
	putStr(m, "provisioningModel", s.ProvisioningModel)
	putBool(m, "skipGuestOsShutdown", s.SkipGuestOsShutdown)
	putStr(m, "terminationTime", s.TerminationTime)
	return m
}

func putStr(m map[string]any, k string, v *string) {
	if v != nil {
		m[k] = *v
	}
}

func putBool(m map[string]any, k string, v *bool) {
	if v != nil {
		m[k] = *v
	}
}

func putInt32(m map[string]any, k string, v *int32) {
	if v != nil {
		m[k] = int64(*v)
	}
}

// putInt64 and putUint64 write 64-bit integers as decimal strings, as the
// API's JSON (and so the plugin) does.
func putInt64(m map[string]any, k string, v *int64) {
	if v != nil {
		m[k] = strconv.FormatInt(*v, 10)
	}
}

func putUint64(m map[string]any, k string, v *uint64) {
	if v != nil {
		m[k] = strconv.FormatUint(*v, 10)
	}
}

func putStrs(m map[string]any, k string, v []string) {
	if len(v) == 0 {
		return
	}
	l := make([]any, len(v))
	for i, s := range v {
		l[i] = s
	}
	m[k] = l
}

// putList writes a repeated field that is not empty, each item converted
// by conv.
func putList[T any](m map[string]any, k string, list []T, conv func(T) map[string]any) {
	if len(list) == 0 {
		return
	}
	out := make([]any, len(list))
	for i, x := range list {
		out[i] = conv(x)
	}
	m[k] = out
}

// putMsg writes a message field that is set, through protoMap.
func putMsg[M any, P interface {
	*M
	ProtoReflect() protoreflect.Message
}](m map[string]any, k string, v P) {
	if v != nil {
		m[k] = protoMap(v.ProtoReflect())
	}
}

// putMsgs writes a repeated message field that is not empty, through
// protoMap.
func putMsgs[T interface{ ProtoReflect() protoreflect.Message }](m map[string]any, k string, list []T) {
	putList(m, k, list, func(x T) map[string]any { return protoMap(x.ProtoReflect()) })
}

// protoMap converts a message the way protojson renders it (JSON names,
// populated fields only, 64-bit integers as strings, bytes in base64,
// enums by name), into JSON-compatible Go values.
func protoMap(msg protoreflect.Message) map[string]any {
	m := make(map[string]any, msg.Descriptor().Fields().Len())
	msg.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			l := v.List()
			out := make([]any, l.Len())
			for i := range out {
				out[i] = protoValue(fd, l.Get(i))
			}
			m[fd.JSONName()] = out
		case fd.IsMap():
			out := make(map[string]any, v.Map().Len())
			vd := fd.MapValue()
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				out[k.String()] = protoValue(vd, mv)
				return true
			})
			m[fd.JSONName()] = out
		default:
			m[fd.JSONName()] = protoValue(fd, v)
		}
		return true
	})
	return m
}

func protoValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return protoMap(v.Message())
	case protoreflect.StringKind:
		return v.String()
	case protoreflect.BoolKind:
		return v.Bool()
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return v.Int()
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return int64(v.Uint())
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return strconv.FormatInt(v.Int(), 10)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.FormatUint(v.Uint(), 10)
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		f := v.Float()
		switch {
		case math.IsNaN(f):
			return "NaN"
		case math.IsInf(f, 1):
			return "Infinity"
		case math.IsInf(f, -1):
			return "-Infinity"
		}
		return f
	case protoreflect.BytesKind:
		return base64.StdEncoding.EncodeToString(v.Bytes())
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return int64(v.Enum())
	}
	return nil
}
