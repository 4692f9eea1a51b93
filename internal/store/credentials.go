package store

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/rosterhq/roster"
)

// ---- credentials

const credentialCols = `id, name, type, description, fields, secrets_set, path, version, created_at, updated_at`

func scanCredential(r row) (*roster.Credential, error) {
	var c roster.Credential
	var fields json.RawMessage
	if err := r.Scan(&c.ID, &c.Name, &c.Type, &c.Description, &fields, &c.SecretsSet, &c.Path, &c.Version, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(fields, &c.Fields); err != nil {
		return nil, err
	}
	return &c, nil
}

// nonNilStrings is s, or an empty list for nil: a list column is never
// NULL.
func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func credentialNameTaken(name string) error {
	return roster.Errorf(roster.ECONFLICT, "a credential named %q already exists", name)
}

// CreateCredential implements roster.CredentialStore. The caller sets
// Path and Version (the secret backend's); an empty ID is generated.
func (s *db) CreateCredential(ctx context.Context, c *roster.Credential) error {
	now := storedTime(s.now())
	if c.ID == "" {
		c.ID = newID()
	}
	c.CreatedAt, c.UpdatedAt = now, now
	if c.Fields == nil {
		c.Fields = map[string]string{}
	}
	slices.Sort(c.SecretsSet)
	_, err := s.w.exec(ctx, `INSERT INTO credentials (`+credentialCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		c.ID, c.Name, string(c.Type), c.Description, mustJSON(c.Fields), nonNilStrings(c.SecretsSet), c.Path, c.Version, now, now)
	if isUnique(err) {
		return credentialNameTaken(c.Name)
	}
	return err
}

// Credential implements roster.CredentialStore.
func (s *db) Credential(ctx context.Context, idOrName string) (*roster.Credential, error) {
	return byIDOrName(ctx, s.r, "credentials", credentialCols, "credential", idOrName, scanCredential)
}

// Credentials implements roster.CredentialStore.
func (s *db) Credentials(ctx context.Context) ([]*roster.Credential, error) {
	rs, err := s.r.query(ctx, `SELECT `+credentialCols+` FROM credentials ORDER BY name`)
	return scanAll(rs, err, scanCredential)
}

// UpdateCredential implements roster.CredentialStore.
func (s *db) UpdateCredential(ctx context.Context, id string, upd roster.CredentialUpdate) (*roster.Credential, error) {
	var c *roster.Credential
	err := s.inTx(ctx, func(tx conn) error {
		var err error
		c, err = scanCredential(tx.queryRow(ctx, `SELECT `+credentialCols+` FROM credentials WHERE id = $1`+s.lockRows("UPDATE"), id))
		if isNoRows(err) {
			return notFound("credential", id)
		} else if err != nil {
			return err
		}
		applyCredentialUpdate(c, upd)
		c.UpdatedAt = storedTime(s.now())
		_, err = tx.exec(ctx, `UPDATE credentials SET name = $1, description = $2, fields = $3, secrets_set = $4, version = $5, updated_at = $6 WHERE id = $7`,
			c.Name, c.Description, mustJSON(c.Fields), nonNilStrings(c.SecretsSet), c.Version, c.UpdatedAt, id)
		if isUnique(err) {
			return credentialNameTaken(c.Name)
		}
		return err
	})
	return c, err
}

func applyCredentialUpdate(c *roster.Credential, upd roster.CredentialUpdate) {
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
}

// DeleteCredential implements roster.CredentialStore; its grants go too.
// A credential a source syncs with is not deleted (ECONFLICT).
func (s *db) DeleteCredential(ctx context.Context, id string) error {
	err := s.deleteByID(ctx, "credentials", "credential", id)
	if isForeignKey(err) {
		var name string
		s.r.queryRow(ctx, `SELECT name FROM sources WHERE credential_id = $1 LIMIT 1`, id).Scan(&name)
		return roster.Errorf(roster.ECONFLICT, "the credential is used by source %q; detach it first", name)
	}
	return err
}

// ---- grants

const grantCols = `id, token_id, credential_id, inventory_id, created_at`

func scanGrant(r row) (*roster.Grant, error) {
	var g roster.Grant
	if err := r.Scan(&g.ID, &g.TokenID, &g.CredentialID, &g.InventoryID, &g.CreatedAt); err != nil {
		return nil, err
	}
	return &g, nil
}

// CreateGrant implements roster.GrantStore.
func (s *db) CreateGrant(ctx context.Context, g *roster.Grant) error {
	g.ID = newID()
	g.CreatedAt = storedTime(s.now())
	_, err := s.w.exec(ctx, `INSERT INTO grants (`+grantCols+`) VALUES ($1, $2, $3, $4, $5)`,
		g.ID, g.TokenID, g.CredentialID, g.InventoryID, g.CreatedAt)
	switch {
	case isUnique(err):
		return roster.Errorf(roster.ECONFLICT, "this grant exists already")
	case isForeignKey(err):
		return roster.Errorf(roster.ENOTFOUND, "the token, credential or inventory of the grant does not exist")
	}
	return err
}

// Grants implements roster.GrantStore.
func (s *db) Grants(ctx context.Context, f roster.GrantFilter) ([]*roster.Grant, error) {
	var w whereClause
	for _, c := range []struct{ col, v string }{{"token_id", f.TokenID}, {"credential_id", f.CredentialID}, {"inventory_id", f.InventoryID}} {
		if c.v != "" {
			w.add(c.col+" = ?", c.v)
		}
	}
	rs, err := s.r.query(ctx, `SELECT `+grantCols+` FROM grants`+w.String()+` ORDER BY id`, w.args...)
	return scanAll(rs, err, scanGrant)
}

// DeleteGrant implements roster.GrantStore.
func (s *db) DeleteGrant(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "grants", "grant", id)
}

// ---- sealed secret blobs of the local backend

// PutSecretBlob implements roster.SecretBlobStore. The check and the write
// are one statement, so two writers with the same cas cannot both win.
func (s *db) PutSecretBlob(ctx context.Context, path string, blob []byte, cas int) (int, error) {
	var version int
	var err error
	if cas == 0 {
		err = s.w.queryRow(ctx, `INSERT INTO secret_blobs (path, blob, version) VALUES ($1, $2, 1)
			ON CONFLICT (path) DO NOTHING RETURNING version`, path, blob).Scan(&version)
	} else {
		err = s.w.queryRow(ctx, `UPDATE secret_blobs SET blob = $2, version = version + 1
			WHERE path = $1 AND version = $3 RETURNING version`, path, blob, cas).Scan(&version)
	}
	if isNoRows(err) {
		var current int
		err := s.r.queryRow(ctx, `SELECT version FROM secret_blobs WHERE path = $1`, path).Scan(&current)
		if err != nil && !isNoRows(err) {
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
func (s *db) SecretBlob(ctx context.Context, path string) ([]byte, int, error) {
	var blob []byte
	var version int
	err := s.r.queryRow(ctx, `SELECT blob, version FROM secret_blobs WHERE path = $1`, path).Scan(&blob, &version)
	if isNoRows(err) {
		return nil, 0, notFound("secret", path)
	}
	return blob, version, err
}

// DeleteSecretBlob implements roster.SecretBlobStore.
func (s *db) DeleteSecretBlob(ctx context.Context, path string) error {
	n, err := s.w.exec(ctx, `DELETE FROM secret_blobs WHERE path = $1`, path)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound("secret", path)
	}
	return nil
}

// HasSecretBlobs reports whether any sealed blob is stored, so that a
// missing local key is not silently replaced by a new one.
func (s *db) HasSecretBlobs(ctx context.Context) (bool, error) {
	var has bool
	err := s.r.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM secret_blobs)`).Scan(&has)
	return has, err
}
