package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"maps"
	"slices"
	"strconv"
	"time"

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

const auditCols = `id, time, actor, actor_id, action, outcome, target_type, target_id, target_name, inventory_id, reason, details, count, last_time`

// AppendAudit implements roster.AuditStore. Allowed events are inserted
// as they are; a refusal or failure counts on the record of an identical
// one in its window, or is inserted while its caller is under the limit of
// the window, or counts on the caller's summary record. The count and the
// insert are one step for every writer sharing the database (SQLite's
// write transactions run one at a time; PostgreSQL's take a lock on the
// caller), so the limit is exact.
func (s *db) AppendAudit(ctx context.Context, e *roster.AuditEvent) error {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	e.Time = storedTime(e.Time)
	e.Count, e.LastTime = 1, e.Time
	if !e.Aggregable() {
		e.ID = newID()
		return s.onAudit.after(insertAudit(ctx, s.w, e, nil), e)
	}
	k := auditKeysOf(e, s.audit)
	inserted := e // or the caller's summary record
	err := s.inTx(ctx, func(tx conn) error {
		inserted = e
		if s.xactLock != "" {
			if _, err := tx.exec(ctx, s.xactLock, k.lo); err != nil {
				return err
			}
		}
		if found, err := s.repeatAudit(ctx, tx, e, k.event); found || err != nil {
			return err
		}
		var n int
		if err := tx.queryRow(ctx, `SELECT count(*) FROM audit_events WHERE agg_key >= $1 AND agg_key < $2`, k.lo, k.hi).Scan(&n); err != nil {
			return err
		}
		if n < s.audit.PerCaller {
			e.ID = newID()
			return insertAudit(ctx, tx, e, k.event)
		}
		if found, err := s.repeatAudit(ctx, tx, e, k.summary); found || err != nil {
			return err
		}
		sum := auditSummary(e, s.audit)
		sum.ID, sum.Count, sum.LastTime = newID(), 1, e.Time
		e.ID, inserted = sum.ID, sum
		return insertAudit(ctx, tx, sum, k.summary)
	})
	return s.onAudit.after(err, inserted)
}

// insertAudit inserts the record e with the aggregation key aggKey (nil:
// none).
func insertAudit(ctx context.Context, c conn, e *roster.AuditEvent, aggKey any) error {
	details := e.Details
	if details == nil {
		details = map[string]string{}
	}
	_, err := c.exec(ctx, `INSERT INTO audit_events (`+auditCols+`, agg_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		e.ID, e.Time, e.Actor, e.ActorID, e.Action, string(e.Outcome), e.TargetType, e.TargetID, e.TargetName, e.InventoryID, e.Reason, mustJSON(details),
		e.Count, e.LastTime, aggKey)
	return err
}

// repeatAudit counts e on the record of key, if there is one, and gives e
// that record's id and count.
func (s *db) repeatAudit(ctx context.Context, tx conn, e *roster.AuditEvent, key string) (bool, error) {
	err := tx.queryRow(ctx, `UPDATE audit_events SET count = count + 1, last_time = `+s.greatest+`(last_time, $1) WHERE agg_key = $2 RETURNING id, count`,
		e.Time, key).Scan(&e.ID, &e.Count)
	if isNoRows(err) {
		return false, nil
	}
	return err == nil, err
}

// PurgeAudit implements roster.AuditStore.
func (s *db) PurgeAudit(ctx context.Context, p roster.AuditPurge) (int64, error) {
	var total int64
	for _, c := range []struct {
		outcomes string
		before   time.Time
	}{{`('allowed')`, p.AllowedBefore}, {`('denied', 'failed')`, p.FailuresBefore}} {
		if c.before.IsZero() {
			continue
		}
		for {
			n, err := s.w.exec(ctx, `DELETE FROM audit_events WHERE id IN (
				SELECT id FROM audit_events WHERE outcome IN `+c.outcomes+` AND last_time < $1 LIMIT $2)`, c.before, auditPurgeBatch)
			if err != nil {
				return total, err
			}
			total += n
			if n < auditPurgeBatch {
				break
			}
		}
	}
	return total, nil
}

func scanAuditEvent(r row) (*roster.AuditEvent, error) {
	var e roster.AuditEvent
	var details json.RawMessage
	if err := r.Scan(&e.ID, &e.Time, &e.Actor, &e.ActorID, &e.Action, &e.Outcome, &e.TargetType, &e.TargetID, &e.TargetName, &e.InventoryID, &e.Reason, &details,
		&e.Count, &e.LastTime); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(details, &e.Details); err != nil {
		return nil, err
	}
	return &e, nil
}

// AuditEvents implements roster.AuditStore.
func (s *db) AuditEvents(ctx context.Context, f roster.AuditFilter) ([]*roster.AuditEvent, string, error) {
	var w whereClause
	if f.Actor != "" {
		w.add(`actor = ?`, f.Actor)
	}
	if f.Action != "" {
		w.add(`action = ?`, f.Action)
	}
	if f.TargetID != "" {
		w.add(`target_id = ?`, f.TargetID)
	}
	return idPage(ctx, s.r, `SELECT `+auditCols+` FROM audit_events`, &w, f.After, f.Limit, scanAuditEvent,
		func(e *roster.AuditEvent) string { return e.ID })
}

// idPage reads a page of rows newest first, by id (UUIDv7): sel selects
// them, w holds its conditions, after is the cursor the page before gave
// ("": the first page) and limit the caller's. It gives the page and the
// cursor of the next one ("": none).
func idPage[T any](ctx context.Context, c conn, sel string, w *whereClause, after string, limit int,
	scan func(row) (T, error), id func(T) string) ([]T, string, error) {
	limit = pageLimit(limit)
	if after != "" {
		var last string
		if err := decodeCursor(after, &last); err != nil {
			return nil, "", err
		}
		w.add(`id < ?`, last)
	}
	q := sel + w.String() + ` ORDER BY id DESC` + w.limit(limit+1)
	rs, err := c.query(ctx, q, w.args...)
	out, err := scanAll(rs, err, scan)
	if err != nil {
		return nil, "", err
	}
	if len(out) <= limit {
		return out, "", nil
	}
	out = out[:limit]
	return out, encodeCursor(id(out[limit-1])), nil
}
