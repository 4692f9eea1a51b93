package openstack

import (
	"encoding/json"
	"strings"
)

// varsContext is what host vars need besides the server.
type varsContext struct {
	cloud, region string
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
	srv := make(map[string]any, 59) // the 59 keys below
	srv["id"] = s.ID
	srv["name"] = s.Name
	srv["status"] = s.Status
	srv["access_ipv4"] = str(s.AccessIPv4)
	srv["access_ipv6"] = str(s.AccessIPv6)
	srv["addresses"] = addressVars(s.Addresses)
	srv["admin_password"] = nil
	srv["attached_volumes"] = volumeVars(s.Volumes)
	srv["volumes"] = volumeVars(s.Volumes) // attached_volumes' "aka", which to_dict repeats
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
	srv["flavor"] = flavorVars(&s.Flavor)
	srv["flavor_id"] = nil
	srv["has_config_drive"] = str(s.ConfigDrive)
	srv["host"] = nil // a create-only field of the request
	srv["host_id"] = str(s.HostID)
	srv["host_status"] = str(s.HostStatus)
	srv["hostname"] = str(s.Hostname)
	srv["hypervisor_hostname"] = str(s.Hypervisor)
	srv["image"] = imageVars(s.Image)
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
	srv["personality"] = nil
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
	// 'flavor-%s' and 'image-%s' of the dicts' name whenever the key is
	// there, which to_dict always puts: Python formats a null name as
	// "None". Nova embeds no image name, so every server with an image is
	// in image-None; before 2.47 every server is in flavor-None.
	groups = append(groups, "flavor-"+pyStr(flavorName(&s.Flavor)))
	if s.Image.Kind != imageAbsent {
		groups = append(groups, "image-None")
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

// volumeVars is the server's attached volumes as to_dict gives each
// VolumeAttachment (openstack/compute/v2/volume_attachment.py): Nova sends
// id and delete_on_termination; the other attributes are null.
func volumeVars(vs []volume) any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = map[string]any{
			"id": v.ID, "delete_on_termination": boolean(v.DeleteOnTermination),
			"attachment_id": nil, "bdm_id": nil, "device": nil, "location": nil,
			"name": nil, "tag": nil, "volume_id": nil,
		}
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

// flavorVars is the server's flavor as to_dict gives openstacksdk's
// Flavor (openstack/compute/v2/flavor.py) built from what Nova embeds:
// from 2.47 {original_name, vcpus, ram, disk, ephemeral, swap,
// extra_specs}, where name aliases original_name and id falls back to it;
// before, {id, links}, so name is null and the sizes are the resource's
// defaults (0). is_public defaults to true, extra_specs to {}; links are
// not a Flavor attribute and are dropped.
func flavorVars(f *novaFlavor) any {
	name := flavorName(f)
	id := str(f.ID)
	if id == nil {
		id = name
	}
	extra := stringMap(f.ExtraSpecs)
	if extra == nil {
		extra = map[string]any{}
	}
	return map[string]any{
		"id": id, "name": name, "original_name": str(f.OriginalName),
		"vcpus": intOr0(f.VCPUs), "ram": intOr0(f.RAM), "disk": intOr0(f.Disk),
		"ephemeral": intOr0(f.Ephemeral), "swap": intOr0(f.Swap), "extra_specs": extra,
		"is_public": true, "description": nil, "is_disabled": nil, "rxtx_factor": nil, "location": nil,
	}
}

// flavorName is the Flavor's name: original_name (its alias), or null.
func flavorName(f *novaFlavor) any {
	return str(f.OriginalName)
}

// imageAttributes are the attributes of openstacksdk's image.v2 Image
// (openstack/image/v2/image.py, with Resource's id, name and location and
// TagMixin's tags) that stay null for the image Nova embeds in a server.
var imageAttributes = [...]string{
	"architecture", "checksum", "container_format", "created_at", "direct_url", "disk_format",
	"file", "has_auto_disk_config", "hash_algo", "hash_value", "hw_cpu_cores", "hw_cpu_policy",
	"hw_cpu_sockets", "hw_cpu_thread_policy", "hw_cpu_threads", "hw_disk_bus", "hw_machine_type",
	"hw_qemu_guest_agent", "hw_rng_model", "hw_scsi_model", "hw_serial_port_count", "hw_video_model",
	"hw_video_ram", "hw_vif_model", "hw_watchdog_action", "hypervisor_type", "instance_type_rxtx_factor",
	"instance_uuid", "is_hidden", "is_hw_boot_menu_enabled", "is_hw_vif_multiqueue_enabled",
	"is_protected", "kernel_id", "location", "locations", "metadata", "min_disk", "min_ram", "name",
	"needs_config_drive", "needs_secure_boot", "os_admin_user", "os_command_line", "os_distro",
	"os_require_quiesce", "os_shutdown_timeout", "os_type", "os_version", "owner", "owner_id",
	"ramdisk_id", "schema", "size", "status", "store", "updated_at", "url", "virtual_size",
	"visibility", "vm_mode", "vmware_adaptertype", "vmware_ostype",
}

// imageVars is the server's image as to_dict gives openstacksdk's Image
// built from what Nova embeds: {"id", "links"} becomes every Image
// attribute, null but id, tags ([]) and properties, where the Image keeps
// the attributes it does not know ({"links": [...]}). Nova embeds no name,
// so name is null. A server booted from a volume ("image": "") gets the
// same dict with a null id and properties; without an image, null.
func imageVars(img imageRef) any {
	if img.Kind == imageAbsent {
		return nil
	}
	m := make(map[string]any, len(imageAttributes)+3)
	for _, k := range imageAttributes {
		m[k] = nil
	}
	m["id"], m["properties"], m["tags"] = nil, nil, []any{}
	if img.Kind == imageObject {
		m["id"] = img.ID
		if img.Links != nil {
			m["properties"] = map[string]any{"links": linkVars(img.Links)}
		}
	}
	return m
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

// intOr0 is an integer attribute whose default is 0.
func intOr0(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// pyStr is a value as Python's str.format writes it: null is "None".
func pyStr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return "None"
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
