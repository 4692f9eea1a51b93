package gcpsim

import (
	"strconv"
	"sync"

	"github.com/rosterhq/roster/internal/cloudsim"
)

// APIBase is the prefix of every resource URL the API returns (selfLink,
// zone, machineType, ...). The real API names www.googleapis.com whatever
// endpoint was called, and so does the simulator.
const APIBase = "https://www.googleapis.com/compute/v1/"

// jsonw is a pooled buffer that JSON is appended to by hand: pages of
// hundreds of instances are rendered with appends only.
type jsonw struct{ b []byte }

var jwPool = sync.Pool{New: func() any { return &jsonw{b: make([]byte, 0, 256<<10)} }}

func getJW() *jsonw { w := jwPool.Get().(*jsonw); w.b = w.b[:0]; return w }

func putJW(w *jsonw) {
	if cap(w.b) <= 8<<20 {
		jwPool.Put(w)
	}
}

// googleJSON escapes strings like Google's front ends: <, >, &, = and '
// as \u00XX too.
var googleJSON = cloudsim.NewJSONStrings("<>&='")

// key appends "name": after a comma unless first.
func (w *jsonw) key(first bool, name string) {
	if !first {
		w.b = append(w.b, ',')
	}
	w.b = append(w.b, '"')
	w.b = append(w.b, name...)
	w.b = append(w.b, '"', ':')
}

func (w *jsonw) str(first bool, name, v string) {
	w.key(first, name)
	w.b = googleJSON.Append(w.b, v)
}

// raw appends a value known to need no escaping (ids, generated names).
func (w *jsonw) raw(first bool, name, v string) {
	w.key(first, name)
	w.b = append(w.b, '"')
	w.b = append(w.b, v...)
	w.b = append(w.b, '"')
}

func (w *jsonw) boolean(first bool, name string, v bool) {
	w.key(first, name)
	w.b = strconv.AppendBool(w.b, v)
}

func (w *jsonw) url(first bool, name string, parts ...string) {
	w.key(first, name)
	w.urlValue(parts...)
}

// urlValue appends a resource URL as a string value.
func (w *jsonw) urlValue(parts ...string) {
	w.b = append(w.b, '"')
	w.b = append(w.b, APIBase...)
	for _, p := range parts {
		w.b = append(w.b, p...)
	}
	w.b = append(w.b, '"')
}

func (w *jsonw) strList(first bool, name string, list []string) {
	w.key(first, name)
	w.b = append(w.b, '[')
	for i, s := range list {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = googleJSON.Append(w.b, s)
	}
	w.b = append(w.b, ']')
}

// instance renders one Instance resource with the fields, nesting and
// field order of the real API.
func (w *jsonw) instance(in *instance) {
	p, z := in.project.name, in.zone.name
	w.b = append(w.b, `{"kind":"compute#instance"`...)
	w.raw(false, "id", in.idStr)
	w.raw(false, "creationTimestamp", in.createdStr)
	w.str(false, "name", in.name)
	if in.description != "" {
		w.str(false, "description", in.description)
	}
	w.key(false, "tags")
	w.b = append(w.b, '{')
	if len(in.tags) > 0 {
		w.strList(true, "items", in.tags)
		w.str(false, "fingerprint", in.tagsFP)
	} else {
		w.str(true, "fingerprint", in.tagsFP)
	}
	w.b = append(w.b, '}')
	w.url(false, "machineType", "projects/", p, "/zones/", z, "/machineTypes/", in.machineType)
	w.raw(false, "status", in.status)
	w.url(false, "zone", "projects/", p, "/zones/", z)
	w.boolean(false, "canIpForward", in.ipForward)

	w.b = append(w.b, `,"networkInterfaces":[{"kind":"compute#networkInterface"`...)
	w.url(false, "network", "projects/", in.netProject, "/global/networks/", in.network)
	w.url(false, "subnetwork", "projects/", in.netProject, "/regions/", in.zone.region, "/subnetworks/", in.subnetwork)
	w.raw(false, "networkIP", in.networkIP)
	w.b = append(w.b, `,"name":"nic0"`...)
	if in.ext.Addr != "" {
		w.b = append(w.b, `,"accessConfigs":[{"kind":"compute#accessConfig","type":"ONE_TO_ONE_NAT","name":"External NAT"`...)
		if ip := in.natIP(); ip != "" {
			w.raw(false, "natIP", ip)
		}
		w.b = append(w.b, `,"networkTier":"PREMIUM"}]`...)
	}
	w.str(false, "fingerprint", in.nicFP)
	w.b = append(w.b, `,"stackType":"IPV4_ONLY"}]`...)

	w.b = append(w.b, `,"disks":[{"kind":"compute#attachedDisk","type":"PERSISTENT","mode":"READ_WRITE"`...)
	w.url(false, "source", "projects/", p, "/zones/", z, "/disks/", in.diskName)
	w.b = append(w.b, `,"deviceName":"persistent-disk-0","index":0,"boot":true,"autoDelete":true`...)
	w.key(false, "licenses")
	w.b = append(w.b, '[')
	w.urlValue("projects/", in.image.project, "/global/licenses/", in.image.license)
	w.b = append(w.b, ']')
	w.b = append(w.b, `,"interface":"SCSI","guestOsFeatures":[{"type":"UEFI_COMPATIBLE"},{"type":"GVNIC"}]`...)
	w.key(false, "diskSizeGb")
	w.b = append(w.b, '"')
	w.b = strconv.AppendInt(w.b, int64(in.diskSize), 10)
	w.b = append(w.b, '"')
	w.raw(false, "architecture", in.arch)
	w.b = append(w.b, "}]"...)

	w.b = append(w.b, `,"metadata":{"kind":"compute#metadata"`...)
	w.str(false, "fingerprint", in.metaFP)
	if len(in.metadata) > 0 {
		w.b = append(w.b, `,"items":[`...)
		for i, m := range in.metadata {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.b = append(w.b, '{')
			w.str(true, "key", m.Key)
			w.str(false, "value", m.Value)
			w.b = append(w.b, '}')
		}
		w.b = append(w.b, ']')
	}
	w.b = append(w.b, '}')

	w.b = append(w.b, `,"serviceAccounts":[{`...)
	w.raw(true, "email", in.saEmail)
	w.strList(false, "scopes", in.saScopes)
	w.b = append(w.b, "}]"...)
	w.url(false, "selfLink", "projects/", p, "/zones/", z, "/instances/", in.name)
	if in.spot {
		w.b = append(w.b, `,"scheduling":{"onHostMaintenance":"TERMINATE","automaticRestart":false,"preemptible":true,"provisioningModel":"SPOT","instanceTerminationAction":"STOP"}`...)
	} else {
		w.b = append(w.b, `,"scheduling":{"onHostMaintenance":"MIGRATE","automaticRestart":true,"preemptible":false,"provisioningModel":"STANDARD"}`...)
	}
	w.str(false, "cpuPlatform", in.cpu())
	if len(in.labels) > 0 {
		w.key(false, "labels")
		w.b = append(w.b, '{')
		for i, l := range in.labels {
			w.str(i == 0, l.Key, l.Value)
		}
		w.b = append(w.b, '}')
	}
	w.str(false, "labelFingerprint", in.labelFP)
	w.b = append(w.b, `,"startRestricted":false`...)
	w.boolean(false, "deletionProtection", in.protect)
	if in.hostname != "" {
		w.str(false, "hostname", in.hostname)
	}
	w.b = append(w.b, `,"shieldedInstanceConfig":{"enableSecureBoot":false,"enableVtpm":true,"enableIntegrityMonitoring":true},"shieldedInstanceIntegrityPolicy":{"updateAutoLearnPolicy":true}`...)
	w.str(false, "fingerprint", in.fp)
	w.raw(false, "lastStartTimestamp", in.lastStart)
	if in.lastStop != "" {
		w.raw(false, "lastStopTimestamp", in.lastStop)
	}
	w.b = append(w.b, `,"satisfiesPzi":true}`...)
}

// noResults renders the warning a scope without instances on a page gets.
func (w *jsonw) noResults(scope string) {
	w.b = append(w.b, `{"warning":{"code":"NO_RESULTS_ON_PAGE","message":"There are no results for scope '`...)
	w.b = append(w.b, scope...)
	w.b = append(w.b, `' on this page.","data":[{"key":"scope","value":"`...)
	w.b = append(w.b, scope...)
	w.b = append(w.b, `"}]}}`...)
}

// disk renders the boot disk of an instance as a Disk resource (for
// disks.aggregatedList).
func (w *jsonw) disk(in *instance) {
	p, z := in.project.name, in.zone.name
	w.b = append(w.b, `{"kind":"compute#disk"`...)
	w.raw(false, "id", strconv.FormatUint(in.id^0x5bd1e995, 10))
	w.raw(false, "creationTimestamp", in.createdStr)
	w.str(false, "name", in.diskName)
	w.key(false, "sizeGb")
	w.b = append(w.b, '"')
	w.b = strconv.AppendInt(w.b, int64(in.diskSize), 10)
	w.b = append(w.b, '"')
	w.url(false, "zone", "projects/", p, "/zones/", z)
	w.raw(false, "status", "READY")
	w.url(false, "selfLink", "projects/", p, "/zones/", z, "/disks/", in.diskName)
	w.url(false, "sourceImage", "projects/", in.image.project, "/global/images/", in.image.name)
	w.url(false, "type", "projects/", p, "/zones/", z, "/diskTypes/pd-balanced")
	w.key(false, "users")
	w.b = append(w.b, '[')
	w.urlValue("projects/", p, "/zones/", z, "/instances/", in.name)
	w.b = append(w.b, `],"physicalBlockSizeBytes":"4096","architecture":`...)
	w.b = googleJSON.Append(w.b, in.arch)
	w.b = append(w.b, '}')
}
