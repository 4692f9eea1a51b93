package api

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/rosterhq/roster"
)

// MinTokenTTL is the shortest lifetime a token may be given: shorter, it
// would expire before it is handed over.
const MinTokenTTL = time.Minute

// TokenSpec is what a token is made from, by the API or the command line.
type TokenSpec struct {
	Name string
	Role roster.Role
	// TTL is the token's lifetime; nil for the longest allowed (no expiry
	// when there is no maximum).
	TTL *time.Duration
	// Inventories, by name or id, limit the token (nil: not limited).
	Inventories []string
	ReadOnly    bool
}

// NewToken checks a spec, naming every field at fault, and returns the
// token it makes, not yet stored. maxTTL bounds lifetimes (0: none).
func NewToken(ctx context.Context, inventories roster.InventoryStore, spec TokenSpec, now time.Time, maxTTL time.Duration) (*roster.Token, error) {
	tok := &roster.Token{Name: spec.Name, Role: spec.Role, ReadOnly: spec.ReadOnly}
	var errs roster.FieldErrors
	if fe := roster.ValidateName("name", spec.Name); fe != nil {
		errs = append(errs, *fe)
	}
	if !spec.Role.Valid() {
		errs.Add("role", "must be admin, operator, auditor or runner")
	}
	ttl := maxTTL
	if spec.TTL != nil {
		ttl = *spec.TTL
		switch {
		case ttl < MinTokenTTL:
			errs.Add("ttl", "must be at least %s", MinTokenTTL)
		case maxTTL > 0 && ttl > maxTTL:
			errs.Add("ttl", "must be at most %s (the server's token max TTL)", maxTTL)
		}
	}
	if ttl > 0 {
		exp := now.Add(ttl).UTC().Truncate(time.Microsecond)
		tok.ExpiresAt = &exp
	}
	if spec.Inventories != nil {
		tok.Inventories = make([]string, 0, len(spec.Inventories))
		for i, ref := range spec.Inventories {
			inv, err := inventories.Inventory(ctx, ref)
			switch {
			case roster.ErrorCode(err) == roster.ENOTFOUND:
				errs.Add(fmt.Sprintf("inventories[%d]", i), "%s", roster.ErrorMessage(err))
			case err != nil:
				return nil, err
			case !slices.Contains(tok.Inventories, inv.ID):
				tok.Inventories = append(tok.Inventories, inv.ID)
			}
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return tok, nil
}
