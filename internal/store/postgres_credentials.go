package store

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster"
)

const pgCredentialCols = `id, name, type, description, fields, secrets_set, path, version, created_at, updated_at`

func pgScanCredential(row pgx.Row) (*roster.Credential, error) {
	var c roster.Credential
	var fields []byte
	if err := row.Scan(&c.ID, &c.Name, &c.Type, &c.Description, &fields, &c.SecretsSet, &c.Path, &c.Version, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(fields, &c.Fields); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = utc(c.CreatedAt), utc(c.UpdatedAt)
	return &c, nil
}

func pgScanCredentialRows(rows pgx.Rows) (*roster.Credential, error) { return pgScanCredential(rows) }

// CreateCredential implements roster.CredentialStore. The caller sets
// Path and Version (the secret backend's); an empty ID is generated.
func (s *Postgres) CreateCredential(ctx context.Context, c *roster.Credential) error {
	now := s.now().UTC().Truncate(time.Microsecond)
	if c.ID == "" {
		c.ID = newID()
	}
	c.CreatedAt, c.UpdatedAt = now, now
	if c.Fields == nil {
		c.Fields = map[string]string{}
	}
	slices.Sort(c.SecretsSet)
	_, err := s.pool.Exec(ctx, `INSERT INTO credentials (`+pgCredentialCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		c.ID, c.Name, string(c.Type), c.Description, mustJSON(c.Fields), nonNilStrings(c.SecretsSet), c.Path, c.Version, now, now)
	if pgIsUnique(err) {
		return roster.Errorf(roster.ECONFLICT, "a credential named %q already exists", c.Name)
	}
	return err
}

// Credential implements roster.CredentialStore.
func (s *Postgres) Credential(ctx context.Context, idOrName string) (*roster.Credential, error) {
	c, err := pgScanCredential(s.pool.QueryRow(ctx, `SELECT `+pgCredentialCols+` FROM credentials WHERE id = $1 OR name = $1 ORDER BY id = $1 DESC LIMIT 1`, idOrName))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("credential", idOrName)
	}
	return c, err
}

// Credentials implements roster.CredentialStore.
func (s *Postgres) Credentials(ctx context.Context) ([]*roster.Credential, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+pgCredentialCols+` FROM credentials ORDER BY name`)
	return collect(rows, err, pgScanCredentialRows)
}

// UpdateCredential implements roster.CredentialStore.
func (s *Postgres) UpdateCredential(ctx context.Context, id string, upd roster.CredentialUpdate) (*roster.Credential, error) {
	var c *roster.Credential
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		c, err = pgScanCredential(tx.QueryRow(ctx, `SELECT `+pgCredentialCols+` FROM credentials WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
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
		_, err = tx.Exec(ctx, `UPDATE credentials SET name = $1, description = $2, fields = $3, secrets_set = $4, version = $5, updated_at = $6 WHERE id = $7`,
			c.Name, c.Description, mustJSON(c.Fields), nonNilStrings(c.SecretsSet), c.Version, c.UpdatedAt, id)
		if pgIsUnique(err) {
			return roster.Errorf(roster.ECONFLICT, "a credential named %q already exists", c.Name)
		}
		return err
	})
	return c, err
}

// DeleteCredential implements roster.CredentialStore; its grants go too.
// A credential a source syncs with is not deleted (ECONFLICT).
func (s *Postgres) DeleteCredential(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM credentials WHERE id = $1`, id)
	if pgIsForeignKey(err) {
		var name string
		s.pool.QueryRow(ctx, `SELECT name FROM sources WHERE credential_id = $1 LIMIT 1`, id).Scan(&name)
		return roster.Errorf(roster.ECONFLICT, "the credential is used by source %q; detach it first", name)
	}
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return notFound("credential", id)
	}
	return nil
}

// ---- grants

const pgGrantCols = `id, token_id, credential_id, inventory_id, created_at`

// CreateGrant implements roster.GrantStore.
func (s *Postgres) CreateGrant(ctx context.Context, g *roster.Grant) error {
	g.ID = newID()
	g.CreatedAt = s.now().UTC().Truncate(time.Microsecond)
	_, err := s.pool.Exec(ctx, `INSERT INTO grants (`+pgGrantCols+`) VALUES ($1, $2, $3, $4, $5)`,
		g.ID, g.TokenID, g.CredentialID, g.InventoryID, g.CreatedAt)
	switch {
	case pgIsUnique(err):
		return roster.Errorf(roster.ECONFLICT, "this grant exists already")
	case pgIsForeignKey(err):
		return roster.Errorf(roster.ENOTFOUND, "the token, credential or inventory of the grant does not exist")
	}
	return err
}

// Grants implements roster.GrantStore.
func (s *Postgres) Grants(ctx context.Context, f roster.GrantFilter) ([]*roster.Grant, error) {
	var w pgWhere
	for _, c := range []struct{ col, v string }{{"token_id", f.TokenID}, {"credential_id", f.CredentialID}, {"inventory_id", f.InventoryID}} {
		if c.v != "" {
			w.add(c.col+" = ?", c.v)
		}
	}
	rows, err := s.pool.Query(ctx, `SELECT `+pgGrantCols+` FROM grants`+w.String()+` ORDER BY id`, w.args...)
	return collect(rows, err, func(rows pgx.Rows) (*roster.Grant, error) {
		var g roster.Grant
		if err := rows.Scan(&g.ID, &g.TokenID, &g.CredentialID, &g.InventoryID, &g.CreatedAt); err != nil {
			return nil, err
		}
		g.CreatedAt = utc(g.CreatedAt)
		return &g, nil
	})
}

// DeleteGrant implements roster.GrantStore.
func (s *Postgres) DeleteGrant(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM grants WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return notFound("grant", id)
	}
	return nil
}

// ---- audit

const pgAuditCols = `id, time, actor, actor_id, action, outcome, target_type, target_id, target_name, inventory_id, reason, details, count, last_time`

// AppendAudit implements roster.AuditStore. Allowed events are inserted
// as they are; a refusal or failure counts on the record of an identical
// one in its window, or is inserted while its caller is under the limit of
// the window, or counts on the caller's summary record. A transaction
// lock on the caller makes the count and the insert one step for every
// process sharing the database, so the limit is exact.
func (s *Postgres) AppendAudit(ctx context.Context, e *roster.AuditEvent) error {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	e.Time = pgTime(e.Time)
	e.Count, e.LastTime = 1, e.Time
	if !e.Aggregable() {
		e.ID = newID()
		return s.onAudit.after(insertAuditPG(ctx, s.pool, e, nil), e)
	}
	k := auditKeysOf(e, s.audit)
	inserted := e // or the caller's summary record
	err := s.tx(ctx, func(tx pgx.Tx) error {
		inserted = e
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, k.lo); err != nil {
			return err
		}
		if found, err := repeatAuditPG(ctx, tx, e, k.event); found || err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE agg_key >= $1 AND agg_key < $2`, k.lo, k.hi).Scan(&n); err != nil {
			return err
		}
		if n < s.audit.PerCaller {
			e.ID = newID()
			return insertAuditPG(ctx, tx, e, k.event)
		}
		if found, err := repeatAuditPG(ctx, tx, e, k.summary); found || err != nil {
			return err
		}
		sum := auditSummary(e, s.audit)
		sum.ID, sum.Count, sum.LastTime = newID(), 1, e.Time
		e.ID, inserted = sum.ID, sum
		return insertAuditPG(ctx, tx, sum, k.summary)
	})
	return s.onAudit.after(err, inserted)
}

func insertAuditPG(ctx context.Context, q pgQuerier, e *roster.AuditEvent, aggKey any) error {
	details := e.Details
	if details == nil {
		details = map[string]string{}
	}
	_, err := q.Exec(ctx, `INSERT INTO audit_events (`+pgAuditCols+`, agg_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		e.ID, e.Time, e.Actor, e.ActorID, e.Action, string(e.Outcome), e.TargetType, e.TargetID, e.TargetName, e.InventoryID, e.Reason, mustJSON(details),
		e.Count, e.LastTime, aggKey)
	return err
}

// repeatAuditPG counts e on the record of key, if there is one, and gives
// e that record's id and count.
func repeatAuditPG(ctx context.Context, tx pgx.Tx, e *roster.AuditEvent, key string) (bool, error) {
	err := tx.QueryRow(ctx, `UPDATE audit_events SET count = count + 1, last_time = GREATEST(last_time, $1) WHERE agg_key = $2 RETURNING id, count`,
		e.Time, key).Scan(&e.ID, &e.Count)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// PurgeAudit implements roster.AuditStore.
func (s *Postgres) PurgeAudit(ctx context.Context, p roster.AuditPurge) (int64, error) {
	var total int64
	for _, c := range []struct {
		outcomes []string
		before   time.Time
	}{{[]string{"allowed"}, p.AllowedBefore}, {[]string{"denied", "failed"}, p.FailuresBefore}} {
		if c.before.IsZero() {
			continue
		}
		for {
			tag, err := s.pool.Exec(ctx, `DELETE FROM audit_events WHERE id IN (
				SELECT id FROM audit_events WHERE outcome = ANY($1) AND last_time < $2 LIMIT $3)`, c.outcomes, c.before, auditPurgeBatch)
			if err != nil {
				return total, err
			}
			total += tag.RowsAffected()
			if tag.RowsAffected() < auditPurgeBatch {
				break
			}
		}
	}
	return total, nil
}

// AuditEvents implements roster.AuditStore.
func (s *Postgres) AuditEvents(ctx context.Context, f roster.AuditFilter) ([]*roster.AuditEvent, string, error) {
	limit := pageLimit(f.Limit)
	var w pgWhere
	if f.Actor != "" {
		w.add(`actor = ?`, f.Actor)
	}
	if f.Action != "" {
		w.add(`action = ?`, f.Action)
	}
	if f.TargetID != "" {
		w.add(`target_id = ?`, f.TargetID)
	}
	if f.After != "" {
		var after string
		if err := decodeCursor(f.After, &after); err != nil {
			return nil, "", err
		}
		w.add(`id < ?`, after)
	}
	q := `SELECT ` + pgAuditCols + ` FROM audit_events` + w.String() + ` ORDER BY id DESC` + w.limit(limit+1)
	rows, err := s.pool.Query(ctx, q, w.args...)
	out, err := collect(rows, err, func(rows pgx.Rows) (*roster.AuditEvent, error) {
		var e roster.AuditEvent
		var details []byte
		if err := rows.Scan(&e.ID, &e.Time, &e.Actor, &e.ActorID, &e.Action, &e.Outcome, &e.TargetType, &e.TargetID, &e.TargetName, &e.InventoryID, &e.Reason, &details,
			&e.Count, &e.LastTime); err != nil {
			return nil, err
		}
		e.Time, e.LastTime = utc(e.Time), utc(e.LastTime)
		if err := json.Unmarshal(details, &e.Details); err != nil {
			return nil, err
		}
		return &e, nil
	})
	if err != nil {
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

// PutSecretBlob implements roster.SecretBlobStore. The check and the write
// are one statement, so two writers with the same cas cannot both win.
func (s *Postgres) PutSecretBlob(ctx context.Context, path string, blob []byte, cas int) (int, error) {
	var version int
	var err error
	if cas == 0 {
		err = s.pool.QueryRow(ctx, `INSERT INTO secret_blobs (path, blob, version) VALUES ($1, $2, 1)
			ON CONFLICT (path) DO NOTHING RETURNING version`, path, blob).Scan(&version)
	} else {
		err = s.pool.QueryRow(ctx, `UPDATE secret_blobs SET blob = $2, version = version + 1
			WHERE path = $1 AND version = $3 RETURNING version`, path, blob, cas).Scan(&version)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		var current int
		err := s.pool.QueryRow(ctx, `SELECT version FROM secret_blobs WHERE path = $1`, path).Scan(&current)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return 0, err
		}
		return 0, roster.Errorf(roster.ECONFLICT, "check-and-set: %s is at version %d, not %d", path, current, cas)
	}
	if err != nil {
		return 0, err
	}
	return version, nil
}

// SecretBlob implements roster.SecretBlobStore.
func (s *Postgres) SecretBlob(ctx context.Context, path string) ([]byte, int, error) {
	var blob []byte
	var version int
	err := s.pool.QueryRow(ctx, `SELECT blob, version FROM secret_blobs WHERE path = $1`, path).Scan(&blob, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, notFound("secret", path)
	}
	return blob, version, err
}

// DeleteSecretBlob implements roster.SecretBlobStore.
func (s *Postgres) DeleteSecretBlob(ctx context.Context, path string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM secret_blobs WHERE path = $1`, path)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return notFound("secret", path)
	}
	return nil
}

// HasSecretBlobs reports whether any sealed blob is stored, so that a
// missing local key is not silently replaced by a new one.
func (s *Postgres) HasSecretBlobs(ctx context.Context) (bool, error) {
	var has bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM secret_blobs)`).Scan(&has)
	return has, err
}
