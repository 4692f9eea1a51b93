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
	if in.AdvancedMachineFeatures != nil {
		m["advancedMachineFeatures"] = protoMap(in.AdvancedMachineFeatures.ProtoReflect())
	}
	putBool(m, "canIpForward", in.CanIpForward)
	if in.ConfidentialInstanceConfig != nil {
		m["confidentialInstanceConfig"] = protoMap(in.ConfidentialInstanceConfig.ProtoReflect())
	}
	putStr(m, "cpuPlatform", in.CpuPlatform)
	putStr(m, "creationTimestamp", in.CreationTimestamp)
	putBool(m, "deletionProtection", in.DeletionProtection)
	putStr(m, "description", in.Description)
	if len(in.Disks) > 0 {
		disks := make([]any, len(in.Disks))
		for i, d := range in.Disks {
			disks[i] = attachedDisk(d)
		}
		m["disks"] = disks
	}
	if in.DisplayDevice != nil {
		m["displayDevice"] = protoMap(in.DisplayDevice.ProtoReflect())
	}
	putStr(m, "fingerprint", in.Fingerprint)
	if len(in.GuestAccelerators) > 0 {
		m["guestAccelerators"] = protoList(in.GuestAccelerators)
	}
	putStr(m, "hostname", in.Hostname)
	putUint64(m, "id", in.Id)
	if in.InstanceEncryptionKey != nil {
		m["instanceEncryptionKey"] = protoMap(in.InstanceEncryptionKey.ProtoReflect())
	}
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
	if len(in.NetworkInterfaces) > 0 {
		nics := make([]any, len(in.NetworkInterfaces))
		for i, n := range in.NetworkInterfaces {
			nics[i] = networkInterface(n, plugin)
		}
		m["networkInterfaces"] = nics
	}
	if in.NetworkPerformanceConfig != nil {
		m["networkPerformanceConfig"] = protoMap(in.NetworkPerformanceConfig.ProtoReflect())
	}
	if in.Params != nil {
		m["params"] = protoMap(in.Params.ProtoReflect())
	}
	putStr(m, "privateIpv6GoogleAccess", in.PrivateIpv6GoogleAccess)
	if in.ReservationAffinity != nil {
		m["reservationAffinity"] = protoMap(in.ReservationAffinity.ProtoReflect())
	}
	putStrs(m, "resourcePolicies", in.ResourcePolicies)
	if in.ResourceStatus != nil {
		m["resourceStatus"] = protoMap(in.ResourceStatus.ProtoReflect())
	}
	putBool(m, "satisfiesPzi", in.SatisfiesPzi)
	putBool(m, "satisfiesPzs", in.SatisfiesPzs)
	if s := in.Scheduling; s != nil {
		m["scheduling"] = scheduling(s)
	}
	putStr(m, "selfLink", in.SelfLink)
	if len(in.ServiceAccounts) > 0 {
		sas := make([]any, len(in.ServiceAccounts))
		for i, sa := range in.ServiceAccounts {
			acct := make(map[string]any, 2)
			putStr(acct, "email", sa.Email)
			putStrs(acct, "scopes", sa.Scopes)
			sas[i] = acct
		}
		m["serviceAccounts"] = sas
	}
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
	if in.SourceMachineImageEncryptionKey != nil {
		m["sourceMachineImageEncryptionKey"] = protoMap(in.SourceMachineImageEncryptionKey.ProtoReflect())
	}
	putBool(m, "startRestricted", in.StartRestricted)
	putStr(m, "status", in.Status)
	putStr(m, "statusMessage", in.StatusMessage)
	if t := in.Tags; t != nil {
		tags := make(map[string]any, 2)
		putStr(tags, "fingerprint", t.Fingerprint)
		putStrs(tags, "items", t.Items)
		m["tags"] = tags
	}
	if in.WorkloadIdentityConfig != nil {
		m["workloadIdentityConfig"] = protoMap(in.WorkloadIdentityConfig.ProtoReflect())
	}
	putStr(m, "zone", in.Zone)
}

func networkInterface(n *computepb.NetworkInterface, plugin bool) map[string]any {
	m := make(map[string]any, 10)
	if len(n.AccessConfigs) > 0 {
		m["accessConfigs"] = accessConfigs(n.AccessConfigs)
	}
	if len(n.AliasIpRanges) > 0 {
		m["aliasIpRanges"] = aliasRanges(n.AliasIpRanges)
	}
	if len(n.AliasIpv6Ranges) > 0 {
		m["aliasIpv6Ranges"] = aliasRanges(n.AliasIpv6Ranges)
	}
	putBool(m, "enableVpcScopedDns", n.EnableVpcScopedDns)
	putStr(m, "fingerprint", n.Fingerprint)
	putStr(m, "igmpQuery", n.IgmpQuery)
	putInt32(m, "internalIpv6PrefixLength", n.InternalIpv6PrefixLength)
	if len(n.Ipv6AccessConfigs) > 0 {
		m["ipv6AccessConfigs"] = accessConfigs(n.Ipv6AccessConfigs)
	}
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

func accessConfigs(list []*computepb.AccessConfig) []any {
	out := make([]any, len(list))
	for i, a := range list {
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
		out[i] = m
	}
	return out
}

func aliasRanges(list []*computepb.AliasIpRange) []any {
	out := make([]any, len(list))
	for i, r := range list {
		m := make(map[string]any, 2)
		putStr(m, "ipCidrRange", r.IpCidrRange)
		putStr(m, "subnetworkRangeName", r.SubnetworkRangeName)
		out[i] = m
	}
	return out
}

func attachedDisk(d *computepb.AttachedDisk) map[string]any {
	m := make(map[string]any, 14)
	putStr(m, "architecture", d.Architecture)
	putBool(m, "autoDelete", d.AutoDelete)
	putBool(m, "boot", d.Boot)
	putStr(m, "deviceName", d.DeviceName)
	if d.DiskEncryptionKey != nil {
		m["diskEncryptionKey"] = protoMap(d.DiskEncryptionKey.ProtoReflect())
	}
	putInt64(m, "diskSizeGb", d.DiskSizeGb)
	putBool(m, "forceAttach", d.ForceAttach)
	if len(d.GuestOsFeatures) > 0 {
		fs := make([]any, len(d.GuestOsFeatures))
		for i, f := range d.GuestOsFeatures {
			fm := make(map[string]any, 1)
			putStr(fm, "type", f.Type)
			fs[i] = fm
		}
		m["guestOsFeatures"] = fs
	}
	putInt32(m, "index", d.Index)
	if d.InitializeParams != nil {
		m["initializeParams"] = protoMap(d.InitializeParams.ProtoReflect())
	}
	putStr(m, "interface", d.Interface)
	putStr(m, "kind", d.Kind)
	putStrs(m, "licenses", d.Licenses)
	putStr(m, "mode", d.Mode)
	putStr(m, "savedState", d.SavedState)
	if d.ShieldedInstanceInitialState != nil {
		m["shieldedInstanceInitialState"] = protoMap(d.ShieldedInstanceInitialState.ProtoReflect())
	}
	putStr(m, "source", d.Source)
	putStr(m, "type", d.Type)
	return m
}

func scheduling(s *computepb.Scheduling) map[string]any {
	m := make(map[string]any, 5)
	putBool(m, "automaticRestart", s.AutomaticRestart)
	putInt32(m, "availabilityDomain", s.AvailabilityDomain)
	putBool(m, "exposeHostTopology", s.ExposeHostTopology)
	if s.GracefulShutdown != nil {
		m["gracefulShutdown"] = protoMap(s.GracefulShutdown.ProtoReflect())
	}
	putInt32(m, "hostErrorTimeoutSeconds", s.HostErrorTimeoutSeconds)
	putStr(m, "instanceTerminationAction", s.InstanceTerminationAction)
	if s.LocalSsdRecoveryTimeout != nil {
		m["localSsdRecoveryTimeout"] = protoMap(s.LocalSsdRecoveryTimeout.ProtoReflect())
	}
	putStr(m, "locationHint", s.LocationHint)
	if s.MaxRunDuration != nil {
		m["maxRunDuration"] = protoMap(s.MaxRunDuration.ProtoReflect())
	}
	putInt32(m, "minNodeCpus", s.MinNodeCpus)
	if len(s.NodeAffinities) > 0 {
		m["nodeAffinities"] = protoList(s.NodeAffinities)
	}
	putStr(m, "onHostMaintenance", s.OnHostMaintenance)
	if s.OnInstanceStopAction != nil {
		m["onInstanceStopAction"] = protoMap(s.OnInstanceStopAction.ProtoReflect())
	}
	putBool(m, "preemptible", s.Preemptible)
	if s.PreemptionNoticeDuration != nil {
		m["preemptionNoticeDuration"] = protoMap(s.PreemptionNoticeDuration.ProtoReflect())
	}
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

func protoList[T interface{ ProtoReflect() protoreflect.Message }](list []T) []any {
	out := make([]any, len(list))
	for i, x := range list {
		out[i] = protoMap(x.ProtoReflect())
	}
	return out
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
