package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"maps"
	"slices"
	"strconv"

	"github.com/rosterhq/roster"
)

// auditPurgeBatch is how many audit records one purge transaction removes:
// small enough that the issuance waiting behind it for SQLite's one writer
// waits milliseconds, not the length of the whole purge.
const auditPurgeBatch = 1000

// auditKeys are the aggregation keys of an aggregable audit event, kept in
// audit_events.agg_key (unique; NULL for records that are never
// aggregated). Keys of one caller in one window share a prefix, so its
// records in that window are a range of the index:
//
//	e:<window>:<caller>:<event>      one per distinct event
//	s:<window>:<caller>:<action>:<outcome>   the summary beyond the limit
//
// where window is the window's start in Unix microseconds and caller and
// event are hashes (a key holds no text a caller chose).
type auditKeys struct {
	event, summary string
	// [lo, hi) is the range of the caller's event keys in the window.
	lo, hi string
}

func auditKeysOf(e *roster.AuditEvent, l roster.AuditLimits) auditKeys {
	window := e.Time.UnixMicro() / l.Window.Microseconds() * l.Window.Microseconds()
	caller := digest(e.ActorID, e.Actor)
	fields := []string{e.Action, string(e.Outcome), e.TargetType, e.TargetID, e.TargetName, e.InventoryID, e.Reason}
	for _, k := range slices.Sorted(maps.Keys(e.Details)) {
		fields = append(fields, k, e.Details[k])
	}
	prefix := strconv.FormatInt(window, 10) + ":" + caller + ":"
	return auditKeys{
		event:   "e:" + prefix + digest(fields...),
		summary: "s:" + prefix + digest(e.Action, string(e.Outcome)),
		lo:      "e:" + prefix,
		hi:      "e:" + prefix[:len(prefix)-1] + ";", // ';' follows ':'
	}
}

// digest hashes fields, each prefixed with its length so that no two lists
// of fields hash alike by concatenation.
func digest(fields ...string) string {
	h := sha256.New()
	for _, f := range fields {
		writeField(h, f)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func writeField(h hash.Hash, f string) {
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(f)))])
	h.Write([]byte(f))
}

// auditSummary is the record counting a caller's distinct refusals or
// failures beyond the limit of a window, e standing for the first of them.
func auditSummary(e *roster.AuditEvent, l roster.AuditLimits) *roster.AuditEvent {
	return &roster.AuditEvent{
		Time: e.Time, Actor: e.Actor, ActorID: e.ActorID, Action: e.Action, Outcome: e.Outcome, TargetType: e.TargetType,
		Reason:  fmt.Sprintf("more than %d distinct refusals and failures of this caller within %s: the rest are only counted here", l.PerCaller, l.Window),
		Details: map[string]string{"suppressed": "true"},
	}
}

// auditHook is told of every audit record a store inserts, after the
// insert committed: not of repeats counted on an existing record (see
// AppendAudit), so a flood of refusals reaches it no more than it reaches
// the log.
type auditHook struct{ fn func(*roster.AuditEvent) }

// after calls the hook with rec when err is nil and rec was inserted
// (its count is 1; a repeat's is its record's, more than 1).
func (h auditHook) after(err error, rec *roster.AuditEvent) error {
	if err == nil && h.fn != nil && rec.Count == 1 {
		h.fn(rec)
	}
	return err
}
