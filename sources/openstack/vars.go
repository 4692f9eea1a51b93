package openstack

import (
	"encoding/json"
	"strings"
)

// varsContext is what host vars need besides the server.
type varsContext struct {
	cloud, region string
	names         *resourceNames
	opts          *Options
}

// serverVars returns a server's host vars in the plugin's shape:
//
//   - openstack: the server as openstacksdk's Server.to_dict(computed=False)
//     has it (snake_case attribute names, null for what Nova did not
//     send), plus cloud: {name, region};
//   - ansible_host and ansible_ssh_host: the first floating address unless
//     private, else the first fixed one (IPv4 only with only_ipv4), or the
//     name with use_names; absent when there is none.
//
// It also returns that address. The conversion is direct: no reflection.
func serverVars(s *novaServer, vc *varsContext) (map[string]any, string) {
	srv := make(map[string]any, 56) // the 56 keys below: 64 slots, no growth
	srv["id"] = s.ID
	srv["name"] = s.Name
	srv["status"] = s.Status
	srv["access_ipv4"] = str(s.AccessIPv4)
	srv["access_ipv6"] = str(s.AccessIPv6)
	srv["addresses"] = addressVars(s.Addresses)
	srv["admin_password"] = nil
	srv["attached_volumes"] = volumeVars(s.Volumes)
	srv["availability_zone"] = str(s.AZ)
	srv["block_device_mapping"] = nil
	cloud := map[string]any{"name": vc.cloud}
	if vc.region != "" {
		cloud["region"] = vc.region
	}
	srv["cloud"] = cloud
	srv["compute_host"] = str(s.Host)
	srv["config_drive"] = str(s.ConfigDrive)
	srv["created_at"] = str(s.Created)
	srv["description"] = str(s.Description)
	srv["disk_config"] = str(s.DiskConfig)
	srv["fault"] = faultVars(s.Fault)
	srv["flavor"] = flavorVars(&s.Flavor, vc.names)
	srv["flavor_id"] = nil
	srv["has_config_drive"] = str(s.ConfigDrive)
	srv["host_id"] = str(s.HostID)
	srv["host_status"] = str(s.HostStatus)
	srv["hostname"] = str(s.Hostname)
	srv["hypervisor_hostname"] = str(s.Hypervisor)
	srv["image"] = imageVars(s.Image, vc.names)
	srv["image_id"] = nil
	srv["instance_name"] = str(s.InstanceName)
	srv["is_locked"] = boolean(s.Locked)
	srv["kernel_id"] = str(s.KernelID)
	srv["key_name"] = str(s.KeyName)
	srv["launch_index"] = integer(s.LaunchIndex)
	srv["launched_at"] = str(s.LaunchedAt)
	srv["links"] = linkVars(s.Links)
	srv["locked_reason"] = str(s.LockedReason)
	srv["max_count"] = nil
	srv["metadata"] = stringMap(s.Metadata)
	srv["min_count"] = nil
	srv["networks"] = nil
	srv["pinned_availability_zone"] = str(s.PinnedAZ)
	srv["power_state"] = integer(s.PowerState)
	srv["progress"] = integer(s.Progress)
	srv["project_id"] = str(s.TenantID)
	srv["ramdisk_id"] = str(s.RamdiskID)
	srv["reservation_id"] = str(s.ReservationID)
	srv["root_device_name"] = str(s.RootDevice)
	srv["scheduler_hints"] = rawVar(s.SchedulerHints)
	srv["security_groups"] = securityGroupVars(s.SecurityGroups)
	srv["server_groups"] = stringList(s.ServerGroups, false)
	srv["tags"] = stringList(s.Tags, true)
	srv["task_state"] = str(s.TaskState)
	srv["terminated_at"] = str(s.TerminatedAt)
	srv["trusted_image_certificates"] = stringList(s.TrustedCerts, false)
	srv["updated_at"] = str(s.Updated)
	// user_data is cloud-init input and often carries passwords: Roster
	// never stores it (the plugin shows it to admins).
	srv["user_data"] = nil
	srv["user_id"] = str(s.UserID)
	srv["vm_state"] = str(s.VMState)

	vars := map[string]any{"openstack": srv}
	address := hostAddress(s, vc.opts)
	if address != "" {
		vars["ansible_host"] = address
		vars["ansible_ssh_host"] = address
	}
	return vars, address
}

// hostAddress is the plugin's ansible_host.
func hostAddress(s *novaServer, o *Options) string {
	if o.UseNames {
		return s.Name
	}
	var floating, fixed string
	for _, n := range s.Addresses {
		for _, a := range n.addrs {
			switch {
			case a.Type == "floating" && floating == "":
				floating = a.Addr
			case a.Type == "fixed" && fixed == "" && (!o.OnlyIPv4 || a.Version == 4):
				fixed = a.Addr
			}
		}
	}
	if floating != "" && !o.Private {
		return floating
	}
	return fixed
}

// legacyGroups are the plugin's legacy_groups: the cloud, the region and
// cloud_region, the metadata's group and comma-separated groups, meta-K_V
// for each metadata item, instance-ID, flavor-NAME and image-NAME when the
// name is known, and the availability zone with region_AZ and
// cloud_region_AZ. Names are the plugin's, unsanitised, as ansible-core
// keeps them by default.
func legacyGroups(s *novaServer, vc *varsContext) []string {
	groups := make([]string, 0, 12+len(s.Metadata))
	groups = append(groups, vc.cloud)
	if vc.region != "" {
		groups = append(groups, vc.region, vc.cloud+"_"+vc.region)
	}
	if g, ok := s.Metadata["group"]; ok {
		groups = append(groups, g)
	}
	for g := range strings.SplitSeq(s.Metadata["groups"], ",") {
		if g = strings.TrimSpace(g); g != "" {
			groups = append(groups, g)
		}
	}
	for k, v := range s.Metadata {
		groups = append(groups, "meta-"+k+"_"+v)
	}
	groups = append(groups, "instance-"+s.ID)
	if name := flavorName(&s.Flavor, vc.names); name != "" {
		groups = append(groups, "flavor-"+name)
	}
	if name := imageName(s.Image, vc.names); name != "" {
		groups = append(groups, "image-"+name)
	}
	if az := deref(s.AZ); az != "" {
		groups = append(groups, az)
		if vc.region != "" {
			groups = append(groups, vc.region+"_"+az, vc.cloud+"_"+vc.region+"_"+az)
		}
	}
	return sortedUnique(groups)
}

func addressVars(as addresses) any {
	if as == nil {
		return map[string]any{}
	}
	out := make(map[string]any, len(as))
	for _, n := range as {
		list := make([]any, len(n.addrs))
		for i, a := range n.addrs {
			m := map[string]any{"addr": a.Addr, "version": a.Version}
			if a.Type != "" {
				m["OS-EXT-IPS:type"] = a.Type
			}
			if a.MAC != "" {
				m["OS-EXT-IPS-MAC:mac_addr"] = a.MAC
			}
			list[i] = m
		}
		out[n.network] = list
	}
	return out
}

func volumeVars(vs []volume) any {
	out := make([]any, len(vs))
	for i, v := range vs {
		m := map[string]any{"id": v.ID}
		if v.DeleteOnTermination != nil {
			m["delete_on_termination"] = *v.DeleteOnTermination
		}
		out[i] = m
	}
	return out
}

func faultVars(f *fault) any {
	if f == nil {
		return nil
	}
	m := map[string]any{"code": f.Code, "created": f.Created, "message": f.Message}
	if f.Details != "" {
		m["details"] = f.Details
	}
	return m
}

// flavorVars is the flavor with its name: the embedded flavor from 2.47
// (name = original_name, as openstacksdk aliases it), else the flavor of
// flavors/detail with that id, else just the id.
func flavorVars(f *novaFlavor, names *resourceNames) any {
	if f.OriginalName != nil {
		m := map[string]any{
			"name": *f.OriginalName, "original_name": *f.OriginalName,
			"vcpus": integer(f.VCPUs), "ram": integer(f.RAM), "disk": integer(f.Disk),
			"ephemeral": integer(f.Ephemeral), "swap": integer(f.Swap),
		}
		if f.ExtraSpecs != nil {
			m["extra_specs"] = stringMap(f.ExtraSpecs)
		}
		return m
	}
	id := deref(f.ID)
	if id == "" {
		return map[string]any{}
	}
	fl, ok := names.flavors[id]
	if !ok {
		return map[string]any{"id": id}
	}
	m := map[string]any{
		"id": id, "name": fl.Name, "original_name": fl.Name, "vcpus": int64(fl.VCPUs), "ram": int64(fl.RAM),
		"disk": int64(fl.Disk), "ephemeral": int64(fl.Ephemeral), "swap": int64(fl.Swap),
	}
	if fl.ExtraSpecs != nil {
		m["extra_specs"] = stringMap(fl.ExtraSpecs)
	}
	return m
}

func flavorName(f *novaFlavor, names *resourceNames) string {
	if f.OriginalName != nil {
		return *f.OriginalName
	}
	return names.flavors[deref(f.ID)].Name
}

// imageVars is {id, name} (name when the image service lists the image);
// {} for a server booted from a volume.
func imageVars(img imageRef, names *resourceNames) any {
	if img.ID == "" {
		return map[string]any{}
	}
	m := map[string]any{"id": img.ID}
	if name, ok := names.images[img.ID]; ok {
		m["name"] = name
	}
	return m
}

func imageName(img imageRef, names *resourceNames) string {
	return names.images[img.ID]
}

func linkVars(ls []link) any {
	if ls == nil {
		return nil
	}
	out := make([]any, len(ls))
	for i, l := range ls {
		out[i] = map[string]any{"href": l.Href, "rel": l.Rel}
	}
	return out
}

func securityGroupVars(gs []securityGroup) any {
	if gs == nil {
		return nil
	}
	out := make([]any, len(gs))
	for i, g := range gs {
		out[i] = map[string]any{"name": g.Name}
	}
	return out
}

func stringMap(m map[string]string) any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// stringList converts a list; a missing list is null, or [] when
// emptyDefault (openstacksdk's default for tags).
func stringList(s []string, emptyDefault bool) any {
	if s == nil && !emptyDefault {
		return nil
	}
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// rawVar decodes an untyped field into JSON-compatible values.
func rawVar(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	return v
}

func str(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func integer(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func boolean(p *bool) any {
	if p == nil {
		return nil
	}
	return *p
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
