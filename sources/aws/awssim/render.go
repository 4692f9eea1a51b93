package awssim

import (
	"strconv"
	"sync"
	"unicode/utf8"
)

const (
	xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"
	ec2NS     = "http://ec2.amazonaws.com/doc/2016-11-15/"
	stsNS     = "https://sts.amazonaws.com/doc/2011-06-15/"
)

// xmlw appends XML to a byte slice. Element names and values known to be
// safe (ids, numbers, generated addresses) go through raw; anything a user
// or a test can set goes through text, which escapes it.
type xmlw struct{ b []byte }

var bufPool = sync.Pool{New: func() any { return &xmlw{b: make([]byte, 0, 64<<10)} }}

func getW() *xmlw { w := bufPool.Get().(*xmlw); w.b = w.b[:0]; return w }

func putW(w *xmlw) {
	if cap(w.b) <= 16<<20 { // do not keep huge unpaginated responses alive
		bufPool.Put(w)
	}
}

func (w *xmlw) open(tag string) {
	w.b = append(w.b, '<')
	w.b = append(w.b, tag...)
	w.b = append(w.b, '>')
}

func (w *xmlw) close(tag string) {
	w.b = append(w.b, '<', '/')
	w.b = append(w.b, tag...)
	w.b = append(w.b, '>')
}

func (w *xmlw) empty(tag string) {
	w.b = append(w.b, '<')
	w.b = append(w.b, tag...)
	w.b = append(w.b, '/', '>')
}

func (w *xmlw) raw(tag, v string) {
	w.open(tag)
	w.b = append(w.b, v...)
	w.close(tag)
}

func (w *xmlw) text(tag, v string) {
	w.open(tag)
	w.b = appendEscaped(w.b, v)
	w.close(tag)
}

// pair writes <tag><k1>v1</k1><k2>v2</k2></tag>, the values escaped: a
// tag, a group, a state reason, an instance profile.
func (w *xmlw) pair(tag, k1, v1, k2, v2 string) {
	w.open(tag)
	w.text(k1, v1)
	w.text(k2, v2)
	w.close(tag)
}

// textOrEmpty writes <tag/> for an empty value, as EC2 does.
func (w *xmlw) textOrEmpty(tag, v string) {
	if v == "" {
		w.empty(tag)
		return
	}
	w.text(tag, v)
}

func (w *xmlw) bool(tag string, v bool) {
	if v {
		w.raw(tag, "true")
	} else {
		w.raw(tag, "false")
	}
}

func (w *xmlw) int(tag string, v int) {
	w.open(tag)
	w.b = strconv.AppendInt(w.b, int64(v), 10)
	w.close(tag)
}

// appendEscaped appends s as XML character data: &, < and > escaped, CR
// kept as a character reference, and bytes XML cannot carry (other control
// characters, invalid UTF-8) replaced by U+FFFD.
func appendEscaped(b []byte, s string) []byte {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '&' || c == '<' || c == '>' || c >= 0x80 {
			clean = false
			break
		}
	}
	if clean {
		return append(b, s...)
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x80 {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 || r == 0xFFFE || r == 0xFFFF {
				b = append(b, "\uFFFD"...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch {
		case c == '&':
			b = append(b, "&amp;"...)
		case c == '<':
			b = append(b, "&lt;"...)
		case c == '>':
			b = append(b, "&gt;"...)
		case c == '\r':
			b = append(b, "&#xD;"...)
		case c == '\n' || c == '\t':
			b = append(b, c)
		case c < 0x20:
			b = append(b, "\uFFFD"...)
		default:
			b = append(b, c)
		}
		i++
	}
	return b
}

// responseStart writes the XML declaration and the opening element of an
// EC2 response with its requestId.
func (w *xmlw) ec2Start(action, requestID string) {
	w.b = append(w.b, xmlHeader...)
	w.b = append(w.b, '<')
	w.b = append(w.b, action...)
	w.b = append(w.b, `Response xmlns="`+ec2NS+`">`...)
	w.raw("requestId", requestID)
}

func (w *xmlw) ec2End(action string) {
	w.b = append(w.b, "</"...)
	w.b = append(w.b, action...)
	w.b = append(w.b, "Response>"...)
}

// ec2Error renders EC2's error document.
func (w *xmlw) ec2Error(code, message, requestID string) {
	w.b = append(w.b, xmlHeader...)
	w.b = append(w.b, "<Response><Errors><Error>"...)
	w.raw("Code", code)
	w.text("Message", message)
	w.b = append(w.b, "</Error></Errors>"...)
	w.raw("RequestID", requestID)
	w.b = append(w.b, "</Response>"...)
}

// stsError renders the awsQuery (STS) error document.
func (w *xmlw) stsError(typ, code, message, requestID string) {
	w.b = append(w.b, `<ErrorResponse xmlns="`+stsNS+`"><Error>`...)
	w.raw("Type", typ)
	w.raw("Code", code)
	w.text("Message", message)
	w.b = append(w.b, "</Error>"...)
	w.raw("RequestId", requestID)
	w.b = append(w.b, "</ErrorResponse>"...)
}

// reservations renders instances (in list order) as a reservationSet:
// consecutive instances of one reservation share an item.
func (w *xmlw) reservations(list []*instance, account string) {
	if len(list) == 0 {
		w.empty("reservationSet")
		return
	}
	w.open("reservationSet")
	for i := 0; i < len(list); {
		j := i + 1
		for j < len(list) && list[j].reservationID == list[i].reservationID {
			j++
		}
		w.open("item")
		w.raw("reservationId", list[i].reservationID)
		w.raw("ownerId", account)
		w.empty("groupSet")
		w.open("instancesSet")
		for _, in := range list[i:j] {
			w.instance(in, account)
		}
		w.close("instancesSet")
		w.close("item")
		i = j
	}
	w.close("reservationSet")
}

// instance renders one instancesSet item with the element names and nesting
// of the real service (those the SDK's deserializer reads).
func (w *xmlw) instance(in *instance, account string) {
	dead := in.terminated()
	public := in.hasPublic()
	w.open("item")
	w.raw("instanceId", in.id)
	w.raw("imageId", in.imageID)
	w.open("instanceState")
	w.raw("code", in.stateCode)
	w.raw("name", in.state)
	w.close("instanceState")
	if dead {
		w.empty("privateDnsName")
	} else {
		w.raw("privateDnsName", in.privateDNS)
	}
	if public {
		w.raw("dnsName", in.publicDNS)
	} else {
		w.empty("dnsName")
	}
	w.textOrEmpty("reason", in.reason)
	if in.keyName != "" {
		w.text("keyName", in.keyName)
	}
	w.int("amiLaunchIndex", in.launchIndex)
	w.raw("instanceType", in.instanceType)
	w.raw("launchTime", in.launchStr)
	w.pair("placement", "availabilityZone", in.az, "tenancy", "default")
	if in.platform != "" {
		w.raw("platform", in.platform)
	}
	w.open("monitoring")
	w.raw("state", enabledWord(in.monitoring))
	w.close("monitoring")
	if !dead {
		w.raw("subnetId", in.subnetID)
		w.raw("vpcId", in.vpcID)
		w.raw("privateIpAddress", in.privateIP)
	}
	if public {
		w.raw("ipAddress", in.publicIP())
	}
	if !dead {
		w.bool("sourceDestCheck", in.sourceDest)
		w.groupSet(in.groups)
	} else {
		w.empty("groupSet")
	}
	if in.reasonCode != "" {
		w.pair("stateReason", "code", in.reasonCode, "message", in.reasonMsg)
	}
	w.raw("architecture", in.arch)
	w.raw("rootDeviceType", "ebs")
	w.raw("rootDeviceName", in.rootDevice)
	if dead {
		w.empty("blockDeviceMapping")
	} else {
		w.b = append(w.b, "<blockDeviceMapping><item>"...)
		w.raw("deviceName", in.rootDevice)
		w.open("ebs")
		w.raw("volumeId", in.volumeID)
		w.raw("status", "attached")
		w.raw("attachTime", in.launchStr)
		w.raw("deleteOnTermination", "true")
		w.close("ebs")
		w.b = append(w.b, "</item></blockDeviceMapping>"...)
	}
	w.raw("virtualizationType", "hvm")
	if in.lifecycle != "" {
		w.raw("instanceLifecycle", in.lifecycle)
		w.raw("spotInstanceRequestId", in.spotRequestID)
	}
	if len(in.tags) > 0 {
		w.open("tagSet")
		for _, t := range in.tags {
			w.pair("item", "key", t.Key, "value", t.Value)
		}
		w.close("tagSet")
	}
	w.raw("hypervisor", "xen")
	if dead {
		w.empty("networkInterfaceSet")
	} else {
		w.networkInterface(in, public)
	}
	if in.profileArn != "" {
		w.pair("iamInstanceProfile", "arn", in.profileArn, "id", in.profileID)
	}
	w.bool("ebsOptimized", in.ebsOptimized)
	w.raw("enaSupport", "true")
	w.open("cpuOptions")
	w.int("coreCount", in.cores)
	w.int("threadsPerCore", in.threads)
	w.close("cpuOptions")
	w.open("metadataOptions")
	w.raw("httpTokens", in.httpTokens)
	w.int("httpPutResponseHopLimit", in.hopLimit)
	w.raw("httpEndpoint", "enabled")
	w.close("metadataOptions")
	if in.platform == "windows" {
		w.raw("platformDetails", "Windows")
	} else {
		w.raw("platformDetails", "Linux/UNIX")
	}
	if in.arch == "arm64" {
		w.raw("currentInstanceBootMode", "uefi")
	} else {
		w.raw("currentInstanceBootMode", "legacy-bios")
	}
	w.close("item")
}

func (w *xmlw) groupSet(groups []secGroup) {
	w.open("groupSet")
	for _, g := range groups {
		w.pair("item", "groupId", g.id, "groupName", g.name)
	}
	w.close("groupSet")
}

// networkInterface renders the primary (and only) network interface. To
// keep an instance near 2 KB (the SDK parses XML at roughly 10 MB/s, and a
// benchmark syncs 100,000 instances) it leaves out what repeats the
// instance: subnet, VPC, owner, security groups, source/dest check, and the
// privateIpAddressesSet that would hold the same single address.
func (w *xmlw) networkInterface(in *instance, public bool) {
	assoc := func() {
		if public {
			w.open("association")
			w.raw("publicIp", in.publicIP())
			w.raw("publicDnsName", in.publicDNS)
			w.raw("ipOwnerId", "amazon")
			w.close("association")
		}
	}
	w.b = append(w.b, "<networkInterfaceSet><item>"...)
	w.raw("networkInterfaceId", in.eniID)
	w.raw("status", "in-use")
	w.raw("macAddress", in.mac)
	w.raw("privateIpAddress", in.privateIP)
	w.raw("privateDnsName", in.privateDNS)
	w.open("attachment")
	w.raw("attachmentId", in.attachID)
	w.raw("deviceIndex", "0")
	w.raw("status", "attached")
	w.close("attachment")
	assoc()
	w.b = append(w.b, "</item></networkInterfaceSet>"...)
}
