package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

const credentialCols = `id, name, type, description, fields, secrets_set, path, version, created_at, updated_at`

func scanCredential(row interface{ Scan(...any) error }) (*roster.Credential, error) {
	var c roster.Credential
	var fields, secrets string
	var created, updated int64
	if err := row.Scan(&c.ID, &c.Name, &c.Type, &c.Description, &fields, &secrets, &c.Path, &c.Version, &created, &updated); err != nil {
		return nil, err
	}
	if err := errors.Join(unmarshalJSON(fields, &c.Fields), unmarshalJSON(secrets, &c.SecretsSet)); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &c, nil
}

// CreateCredential implements roster.CredentialStore. The caller sets
// Path and Version (the secret backend's); an empty ID is generated.
func (s *SQLite) CreateCredential(ctx context.Context, c *roster.Credential) error {
	now := s.now().UTC().Truncate(time.Microsecond)
	if c.ID == "" {
		c.ID = newID()
	}
	c.CreatedAt, c.UpdatedAt = now, now
	if c.Fields == nil {
		c.Fields = map[string]string{}
	}
	slices.Sort(c.SecretsSet)
	_, err := s.wq.ExecContext(ctx, `INSERT INTO credentials (`+credentialCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, string(c.Type), c.Description, mustJSON(c.Fields), mustJSON(nonNilStrings(c.SecretsSet)), c.Path, c.Version, micros(now), micros(now))
	if isUnique(err) {
		return roster.Errorf(roster.ECONFLICT, "a credential named %q already exists", c.Name)
	}
	return err
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Credential implements roster.CredentialStore.
func (s *SQLite) Credential(ctx context.Context, idOrName string) (*roster.Credential, error) {
	c, err := scanCredential(s.rq.QueryRowContext(ctx, `SELECT `+credentialCols+` FROM credentials WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1`, idOrName, idOrName, idOrName))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("credential", idOrName)
	}
	return c, err
}

// Credentials implements roster.CredentialStore.
func (s *SQLite) Credentials(ctx context.Context) ([]*roster.Credential, error) {
	rows, err := s.rq.QueryContext(ctx, `SELECT `+credentialCols+` FROM credentials ORDER BY name`)
	return collectRows(rows, err, scanCredential)
}

// UpdateCredential implements roster.CredentialStore.
func (s *SQLite) UpdateCredential(ctx context.Context, id string, upd roster.CredentialUpdate) (*roster.Credential, error) {
	var c *roster.Credential
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		c, err = scanCredential(tx.QueryRowContext(ctx, `SELECT `+credentialCols+` FROM credentials WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("credential", id)
		} else if err != nil {
			return err
		}
		if upd.Name != nil {
			c.Name = *upd.Name
		}
		if upd.Description != nil {
			c.Description = *upd.Description
		}
		if upd.Fields != nil {
			c.Fields = upd.Fields
		}
		if upd.SecretsSet != nil {
			c.SecretsSet = slices.Sorted(slices.Values(upd.SecretsSet))
		}
		if upd.Version != nil {
			c.Version = *upd.Version
		}
		c.UpdatedAt = s.now().UTC().Truncate(time.Microsecond)
		_, err = tx.ExecContext(ctx, `UPDATE credentials SET name = ?, description = ?, fields = ?, secrets_set = ?, version = ?, updated_at = ? WHERE id = ?`,
			c.Name, c.Description, mustJSON(c.Fields), mustJSON(nonNilStrings(c.SecretsSet)), c.Version, micros(c.UpdatedAt), id)
		if isUnique(err) {
			return roster.Errorf(roster.ECONFLICT, "a credential named %q already exists", c.Name)
		}
		return err
	})
	return c, err
}

// DeleteCredential implements roster.CredentialStore; its grants go too.
// A credential a source syncs with is not deleted (ECONFLICT).
func (s *SQLite) DeleteCredential(ctx context.Context, id string) error {
	res, err := s.wq.ExecContext(ctx, `DELETE FROM credentials WHERE id = ?`, id)
	if isForeignKey(err) {
		var name string
		s.rq.QueryRowContext(ctx, `SELECT name FROM sources WHERE credential_id = ? LIMIT 1`, id).Scan(&name)
		return roster.Errorf(roster.ECONFLICT, "the credential is used by source %q; detach it first", name)
	}
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("credential", id)
	}
	return nil
}

// ---- grants

const grantCols = `id, token_id, credential_id, inventory_id, created_at`

// CreateGrant implements roster.GrantStore.
func (s *SQLite) CreateGrant(ctx context.Context, g *roster.Grant) error {
	g.ID = newID()
	g.CreatedAt = s.now().UTC().Truncate(time.Microsecond)
	_, err := s.wq.ExecContext(ctx, `INSERT INTO grants (`+grantCols+`) VALUES (?, ?, ?, ?, ?)`,
		g.ID, g.TokenID, g.CredentialID, g.InventoryID, micros(g.CreatedAt))
	switch {
	case isUnique(err):
		return roster.Errorf(roster.ECONFLICT, "this grant exists already")
	case isForeignKey(err):
		return roster.Errorf(roster.ENOTFOUND, "the token, credential or inventory of the grant does not exist")
	}
	return err
}

// Grants implements roster.GrantStore.
func (s *SQLite) Grants(ctx context.Context, f roster.GrantFilter) ([]*roster.Grant, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{{"token_id", f.TokenID}, {"credential_id", f.CredentialID}, {"inventory_id", f.InventoryID}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	q := `SELECT ` + grantCols + ` FROM grants`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	rows, err := s.rq.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*roster.Grant
	for rows.Next() {
		var g roster.Grant
		var created int64
		if err := rows.Scan(&g.ID, &g.TokenID, &g.CredentialID, &g.InventoryID, &created); err != nil {
			return nil, err
		}
		g.CreatedAt = fromMicros(created)
		out = append(out, &g)
	}
	return out, rows.Err()
}

// DeleteGrant implements roster.GrantStore.
func (s *SQLite) DeleteGrant(ctx context.Context, id string) error {
	res, err := s.wq.ExecContext(ctx, `DELETE FROM grants WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("grant", id)
	}
	return nil
}

// ---- audit

const auditCols = `id, time, actor, actor_id, action, outcome, target_type, target_id, target_name, inventory_id, reason, details, count, last_time`

// AppendAudit implements roster.AuditStore. Allowed events are inserted
// as they are; a refusal or failure counts on the record of an identical
// one in its window, or is inserted while its caller is under the limit of
// the window, or counts on the caller's summary record. The writer
// transactions of SQLite run one at a time, so the limit is exact.
func (s *SQLite) AppendAudit(ctx context.Context, e *roster.AuditEvent) error {
	if e.Time.IsZero() {
		e.Time = s.now().UTC().Truncate(time.Microsecond)
	}
	e.Count, e.LastTime = 1, e.Time
	if !e.Aggregable() {
		e.ID = newID()
		return s.onAudit.after(insertAuditSQLite(ctx, s.wq, e, nil), e)
	}
	k := auditKeysOf(e, s.audit)
	inserted := e // or the caller's summary record
	err := s.tx(ctx, func(tx *sql.Tx) error {
		inserted = e
		if found, err := repeatAuditSQLite(ctx, tx, e, k.event); found || err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM audit_events WHERE agg_key >= ? AND agg_key < ?`, k.lo, k.hi).Scan(&n); err != nil {
			return err
		}
		if n < s.audit.PerCaller {
			e.ID = newID()
			return insertAuditSQLite(ctx, tx, e, k.event)
		}
		if found, err := repeatAuditSQLite(ctx, tx, e, k.summary); found || err != nil {
			return err
		}
		sum := auditSummary(e, s.audit)
		sum.ID, sum.Count, sum.LastTime = newID(), 1, e.Time
		e.ID, inserted = sum.ID, sum
		return insertAuditSQLite(ctx, tx, sum, k.summary)
	})
	return s.onAudit.after(err, inserted)
}

func insertAuditSQLite(ctx context.Context, q interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, e *roster.AuditEvent, aggKey any) error {
	details := e.Details
	if details == nil {
		details = map[string]string{}
	}
	_, err := q.ExecContext(ctx, `INSERT INTO audit_events (`+auditCols+`, agg_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, micros(e.Time), e.Actor, e.ActorID, e.Action, string(e.Outcome), e.TargetType, e.TargetID, e.TargetName, e.InventoryID, e.Reason, mustJSON(details),
		e.Count, micros(e.LastTime), aggKey)
	return err
}

// repeatAuditSQLite counts e on the record of key, if there is one, and
// gives e that record's id and count.
func repeatAuditSQLite(ctx context.Context, tx *sql.Tx, e *roster.AuditEvent, key string) (bool, error) {
	err := tx.QueryRowContext(ctx, `UPDATE audit_events SET count = count + 1, last_time = max(last_time, ?) WHERE agg_key = ? RETURNING id, count`,
		micros(e.Time), key).Scan(&e.ID, &e.Count)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// PurgeAudit implements roster.AuditStore.
func (s *SQLite) PurgeAudit(ctx context.Context, p roster.AuditPurge) (int64, error) {
	var total int64
	for _, c := range []struct {
		outcomes string
		before   time.Time
	}{{`('allowed')`, p.AllowedBefore}, {`('denied', 'failed')`, p.FailuresBefore}} {
		if c.before.IsZero() {
			continue
		}
		for {
			res, err := s.wq.ExecContext(ctx, `DELETE FROM audit_events WHERE rowid IN (
				SELECT rowid FROM audit_events WHERE outcome IN `+c.outcomes+` AND last_time < ? LIMIT ?)`, micros(c.before), auditPurgeBatch)
			if err != nil {
				return total, err
			}
			n, _ := res.RowsAffected()
			total += n
			if n < auditPurgeBatch {
				break
			}
		}
	}
	return total, nil
}

// AuditEvents implements roster.AuditStore.
func (s *SQLite) AuditEvents(ctx context.Context, f roster.AuditFilter) ([]*roster.AuditEvent, string, error) {
	limit := pageLimit(f.Limit)
	var where []string
	var args []any
	if f.Actor != "" {
		where, args = append(where, `actor = ?`), append(args, f.Actor)
	}
	if f.Action != "" {
		where, args = append(where, `action = ?`), append(args, f.Action)
	}
	if f.TargetID != "" {
		where, args = append(where, `target_id = ?`), append(args, f.TargetID)
	}
	if f.After != "" {
		var after string
		if err := decodeCursor(f.After, &after); err != nil {
			return nil, "", err
		}
		where, args = append(where, `id < ?`), append(args, after)
	}
	q := `SELECT ` + auditCols + ` FROM audit_events`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	rows, err := s.rq.QueryContext(ctx, q+` ORDER BY id DESC LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []*roster.AuditEvent
	for rows.Next() {
		var e roster.AuditEvent
		var t int64
		var details string
		var last int64
		if err := rows.Scan(&e.ID, &t, &e.Actor, &e.ActorID, &e.Action, &e.Outcome, &e.TargetType, &e.TargetID, &e.TargetName, &e.InventoryID, &e.Reason, &details,
			&e.Count, &last); err != nil {
			return nil, "", err
		}
		e.Time, e.LastTime = fromMicros(t), fromMicros(last)
		if err := unmarshalJSON(details, &e.Details); err != nil {
			return nil, "", err
		}
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	var next string
	if len(out) > limit {
		out = out[:limit]
		next = encodeCursor(out[limit-1].ID)
	}
	return out, next, nil
}

// ---- sealed secret blobs of the local backend

// PutSecretBlob implements roster.SecretBlobStore.
func (s *SQLite) PutSecretBlob(ctx context.Context, path string, blob []byte, cas int) (int, error) {
	var version int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var current int
		err := tx.QueryRowContext(ctx, `SELECT version FROM secret_blobs WHERE path = ?`, path).Scan(&current)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if current != cas {
			return roster.Errorf(roster.ECONFLICT, "check-and-set: %s is at version %d, not %d", path, current, cas)
		}
		version = current + 1
		_, err = tx.ExecContext(ctx, `INSERT INTO secret_blobs (path, blob, version) VALUES (?, ?, ?)
			ON CONFLICT (path) DO UPDATE SET blob = excluded.blob, version = excluded.version`, path, blob, version)
		return err
	})
	return version, err
}

// SecretBlob implements roster.SecretBlobStore.
func (s *SQLite) SecretBlob(ctx context.Context, path string) ([]byte, int, error) {
	var blob []byte
	var version int
	err := s.rq.QueryRowContext(ctx, `SELECT blob, version FROM secret_blobs WHERE path = ?`, path).Scan(&blob, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, notFound("secret", path)
	}
	return blob, version, err
}

// DeleteSecretBlob implements roster.SecretBlobStore.
func (s *SQLite) DeleteSecretBlob(ctx context.Context, path string) error {
	res, err := s.wq.ExecContext(ctx, `DELETE FROM secret_blobs WHERE path = ?`, path)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("secret", path)
	}
	return nil
}

// HasSecretBlobs reports whether any sealed blob is stored, so that a
// missing local key is not silently replaced by a new one.
func (s *SQLite) HasSecretBlobs(ctx context.Context) (bool, error) {
	var n int
	err := s.rq.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM secret_blobs LIMIT 1)`).Scan(&n)
	return n > 0, err
}
