package openstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"github.com/gophercloud/gophercloud/v2"
	gcopenstack "github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/utils"

	"github.com/rosterhq/roster/sources"
)

// Compute microversions the provider cares about.
const (
	// preferredMinor is the microversion asked for when the cloud has it:
	// the one openstacksdk's Server resource (which the plugin uses)
	// negotiates, so that server_filters and fields behave alike.
	preferredMinor = 96
)

// fetch lists one scope: the compute microversion, then every server. Any
// error fails the whole scope. Like the plugin, it asks nothing else: the
// servers' image and flavor are what Nova embeds (openstack.cloud 2.x does
// not look names up in Glance or flavors/detail).
func (p *provider) fetch(ctx context.Context, sc *scope, s *session) (*serverList, error) {
	eo := gophercloud.EndpointOpts{Region: sc.region, Availability: gophercloud.Availability(ifaceOf(sc.cloud.cfg))}
	compute, err := gcopenstack.NewComputeV2(s.pc, eo)
	if err != nil {
		return nil, fmt.Errorf("find the compute endpoint of region %s: %w", sc.region, explain(err))
	}
	maxMinor, err := maxMicroversion(ctx, compute)
	if err != nil {
		return nil, fmt.Errorf("read the compute API version: %w", err)
	}
	compute.Microversion = "2." + strconv.Itoa(min(preferredMinor, maxMinor))
	return p.listServers(ctx, compute)
}

// maxMicroversion reads the compute endpoint's version document and
// returns N of the highest microversion 2.N it serves (1 when it has no
// microversions). gophercloud's utils.GetSupportedMicroversions hides a
// failed request behind "microversions not supported", so the document is
// read here.
func maxMicroversion(ctx context.Context, compute *gophercloud.ServiceClient) (int, error) {
	var doc struct {
		Version  *computeVersion  `json:"version"`
		Versions []computeVersion `json:"versions"`
	}
	_, err := compute.Get(ctx, compute.Endpoint, &doc, &gophercloud.RequestOpts{OkCodes: []int{http.StatusOK, http.StatusMultipleChoices}})
	if err != nil {
		return 0, explain(err)
	}
	v := doc.Version
	for i := range doc.Versions {
		if doc.Versions[i].ID == "v2.1" {
			v = &doc.Versions[i]
		}
	}
	if v == nil {
		return 0, errors.New("the compute endpoint has no v2.1 version document")
	}
	mv := first(v.Version, v.MaxVersion)
	if mv == "" {
		return 1, nil
	}
	major, minor, err := utils.ParseMicroversion(mv)
	if err != nil || major != 2 {
		return 0, fmt.Errorf("unexpected compute microversion %q", mv)
	}
	return minor, nil
}

type computeVersion struct {
	ID         string `json:"id"`
	Version    string `json:"version"`
	MaxVersion string `json:"max_version"`
}

// serverPage is one page of servers/detail.
type serverPage struct {
	Servers []*novaServer `json:"servers"`
	Links   []link        `json:"servers_links"`
}

// maxPages guards against a server whose next links never end.
const maxPages = 100_000

// listServers pages through servers/detail with limit and marker.
//
// It requests each page through gophercloud's ServiceClient (token,
// re-authentication, retries, microversion headers) but decodes the page
// itself, straight into typed structs: gophercloud's Pager decodes every
// page into map[string]any, and ServerPage.IsEmpty decodes it again,
// which triples the work on large clouds.
//
// The next link is not followed as given: its query (marker, limit,
// filters) is applied to the catalog's endpoint, so a proxy that rewrites
// hosts, or a hostile link, never receives the token.
func (p *provider) listServers(ctx context.Context, compute *gophercloud.ServiceClient) (list *serverList, err error) {
	base := compute.ServiceURL("servers", "detail")
	query := url.Values{}
	pageSize := p.d.PageSize
	if pageSize <= 0 {
		pageSize = defaultPageSize
	}
	query.Set("limit", strconv.Itoa(pageSize))
	for k, v := range p.opts.ServerFilters {
		params, _ := filterParams(k, v)
		for _, kv := range params {
			query.Add(kv[0], kv[1])
		}
	}
	if p.opts.AllProjects {
		query.Set("all_tenants", "1")
	}
	kept := &serverList{pages: sources.NewScratch(sources.ScratchDir(ctx)), names: map[string]int{}}
	defer func() {
		if err != nil {
			kept.Close()
		}
	}()
	list = kept
	seen := map[string]bool{}
	markers := map[string]bool{}
	next := base + "?" + query.Encode()
	for range maxPages {
		var raw sources.Extent
		page, err := p.fetchPage(ctx, compute, next, func(b []byte) (err error) {
			raw, err = list.pages.Append(b)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("list servers: %w", err)
		}
		list.extents = append(list.extents, raw)
		for _, s := range page.Servers {
			if s.ID == "" || seen[s.ID] {
				continue // listed on two pages while servers were created
			}
			seen[s.ID] = true
			list.names[s.Name]++
			list.count++
		}
		href := ""
		for _, l := range page.Links {
			if l.Rel == "next" {
				href = l.Href
			}
		}
		if href == "" || len(page.Servers) == 0 {
			return list, nil
		}
		u, err := url.Parse(href)
		if err != nil {
			return nil, fmt.Errorf("list servers: unparsable next link")
		}
		q := u.Query()
		marker := q.Get("marker")
		if marker == "" || markers[marker] {
			return nil, fmt.Errorf("list servers: the next link does not advance (marker %q)", marker)
		}
		markers[marker] = true
		next = base + "?" + q.Encode()
	}
	return nil, fmt.Errorf("list servers: more than %d pages", maxPages)
}

// serverList is a scope's servers as listed: the raw pages, kept on disk
// (a region's servers are named by whether another has the same name, so
// none is translated before all are listed, and 100,000 decoded servers
// are ≈700 MB), and how many servers have each name.
type serverList struct {
	pages   *sources.Scratch
	extents []sources.Extent
	names   map[string]int
	count   int
}

// each decodes the pages again, one at a time, and calls fn for each
// server, once, in the order listed.
func (l *serverList) each(fn func(*novaServer) error) error {
	seen := make(map[string]bool, l.count)
	var buf []byte
	for _, e := range l.extents {
		b, err := l.pages.Read(e, buf)
		if err != nil {
			return err
		}
		buf = b
		page, err := decodeServerPage(b)
		if err != nil {
			return fmt.Errorf("decode a page of servers read back: %w", err)
		}
		for _, s := range page.Servers {
			if s.ID == "" || seen[s.ID] {
				continue
			}
			seen[s.ID] = true
			if err := fn(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close releases the kept pages.
func (l *serverList) Close() error { return l.pages.Close() }

// fetchPage GETs and decodes one page, trying again (within the retry
// policy) when the body breaks off.
func (p *provider) fetchPage(ctx context.Context, compute *gophercloud.ServiceClient, u string, keep func(raw []byte) error) (*serverPage, error) {
	for attempt := uint(1); ; attempt++ {
		resp, err := compute.Get(ctx, u, nil, &gophercloud.RequestOpts{OkCodes: []int{http.StatusOK}, KeepResponseBody: true})
		if err != nil {
			return nil, explain(err)
		}
		buf := pageBuffers.Get().(*bytes.Buffer)
		buf.Reset()
		if resp.ContentLength > 0 && resp.ContentLength < 1<<30 {
			buf.Grow(int(resp.ContentLength))
		}
		_, err = buf.ReadFrom(resp.Body)
		resp.Body.Close()
		var page *serverPage
		if err == nil {
			page, err = decodeServerPage(buf.Bytes())
		}
		if err == nil {
			if kerr := keep(buf.Bytes()); kerr != nil {
				pageBuffers.Put(buf)
				return nil, kerr
			}
		}
		if buf.Cap() <= 64<<20 {
			pageBuffers.Put(buf)
		}
		if err == nil {
			return page, nil
		}
		if !retryable(err) || int(attempt) > p.retry.max {
			return nil, fmt.Errorf("read a page of servers: %w", err)
		}
		if werr := p.retry.wait(ctx, http.MethodGet, u, 0, nil, attempt, err); werr != nil {
			return nil, werr
		}
	}
}

// pageBuffers hold page bodies while they are decoded; decoded values
// never alias them.
var pageBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// novaServer is a server of servers/detail, with the fields the plugin's
// host vars carry. Pointers tell absent or null fields from empty ones.
type novaServer struct {
	ID             string            `json:"id"`
	Name           string            `json:"name"`
	Status         string            `json:"status"`
	TenantID       *string           `json:"tenant_id"`
	UserID         *string           `json:"user_id"`
	Metadata       map[string]string `json:"metadata"`
	HostID         *string           `json:"hostId"`
	Image          imageRef          `json:"image"`
	Flavor         novaFlavor        `json:"flavor"`
	Created        *string           `json:"created"`
	Updated        *string           `json:"updated"`
	Addresses      addresses         `json:"addresses"`
	AccessIPv4     *string           `json:"accessIPv4"`
	AccessIPv6     *string           `json:"accessIPv6"`
	Links          []link            `json:"links"`
	DiskConfig     *string           `json:"OS-DCF:diskConfig"`
	Progress       *int64            `json:"progress"`
	AZ             *string           `json:"OS-EXT-AZ:availability_zone"`
	PinnedAZ       *string           `json:"pinned_availability_zone"`
	ConfigDrive    *string           `json:"config_drive"`
	KeyName        *string           `json:"key_name"`
	LaunchedAt     *string           `json:"OS-SRV-USG:launched_at"`
	TerminatedAt   *string           `json:"OS-SRV-USG:terminated_at"`
	Host           *string           `json:"OS-EXT-SRV-ATTR:host"`
	InstanceName   *string           `json:"OS-EXT-SRV-ATTR:instance_name"`
	Hypervisor     *string           `json:"OS-EXT-SRV-ATTR:hypervisor_hostname"`
	ReservationID  *string           `json:"OS-EXT-SRV-ATTR:reservation_id"`
	LaunchIndex    *int64            `json:"OS-EXT-SRV-ATTR:launch_index"`
	Hostname       *string           `json:"OS-EXT-SRV-ATTR:hostname"`
	KernelID       *string           `json:"OS-EXT-SRV-ATTR:kernel_id"`
	RamdiskID      *string           `json:"OS-EXT-SRV-ATTR:ramdisk_id"`
	RootDevice     *string           `json:"OS-EXT-SRV-ATTR:root_device_name"`
	TaskState      *string           `json:"OS-EXT-STS:task_state"`
	VMState        *string           `json:"OS-EXT-STS:vm_state"`
	PowerState     *int64            `json:"OS-EXT-STS:power_state"`
	Volumes        []volume          `json:"os-extended-volumes:volumes_attached"`
	Locked         *bool             `json:"locked"`
	LockedReason   *string           `json:"locked_reason"`
	Description    *string           `json:"description"`
	Tags           []string          `json:"tags"`
	TrustedCerts   []string          `json:"trusted_image_certificates"`
	HostStatus     *string           `json:"host_status"`
	SecurityGroups []securityGroup   `json:"security_groups"`
	ServerGroups   []string          `json:"server_groups"`
	Fault          *fault            `json:"fault"`
	SchedulerHints json.RawMessage   `json:"OS-SCH-HNT:scheduler_hints"`
}

// novaFlavor is a server's flavor: {id, links} before 2.47, the embedded
// flavor (original_name, vcpus, ...) from 2.47.
type novaFlavor struct {
	ID           *string           `json:"id"`
	OriginalName *string           `json:"original_name"`
	VCPUs        *int64            `json:"vcpus"`
	RAM          *int64            `json:"ram"`
	Disk         *int64            `json:"disk"`
	Ephemeral    *int64            `json:"ephemeral"`
	Swap         *int64            `json:"swap"`
	ExtraSpecs   map[string]string `json:"extra_specs"`
}

type link struct {
	Href string `json:"href"`
	Rel  string `json:"rel"`
}

type volume struct {
	ID                  string `json:"id"`
	DeleteOnTermination *bool  `json:"delete_on_termination"`
}

type securityGroup struct {
	Name string `json:"name"`
}

type fault struct {
	Code    int64  `json:"code"`
	Created string `json:"created"`
	Message string `json:"message"`
	Details string `json:"details,omitempty"`
}

// address is one entry of a server's addresses.
type address struct {
	Addr    string `json:"addr"`
	Version int64  `json:"version"`
	Type    string `json:"OS-EXT-IPS:type"`
	MAC     string `json:"OS-EXT-IPS-MAC:mac_addr"`
}

// addresses keeps Nova's network order, which decides the "first"
// floating or fixed address the plugin picks.
type addresses []networkAddresses

type networkAddresses struct {
	network string
	addrs   []address
}

// imageRef is a server's image: {"id": ..., "links": [...]}, "" for a
// server booted from a volume, or nothing.
type imageRef struct {
	Kind  imageKind
	ID    string
	Links []link
}

// imageKind tells what Nova sent for a server's image.
type imageKind uint8

const (
	imageAbsent imageKind = iota // no image key, or null
	imageString                  // "" (booted from a volume)
	imageObject                  // {"id": ..., "links": [...]}
)
