package broker

import "github.com/rosterhq/roster"

// The kinds of issuance an IssuanceObserver is told of.
const (
	KindIssue   = "issue"    // Issue: a credential's fields, or a wrapping token
	KindSSHSign = "ssh_sign" // SignSSHKey: an SSH certificate
)

// The results an IssuanceObserver is told of.
const (
	// ResultIssued: the caller got the credential or the certificate.
	ResultIssued = "issued"
	// ResultDenied: the broker refused the caller: no grant for the
	// credential and inventory (audited as a denial), or a request it does
	// not take (an unknown credential, a credential of the wrong type, a
	// public key, principal or lifetime outside the credential's policy).
	ResultDenied = "denied"
	// ResultError: the issuance failed after the broker had authorised it
	// (audited as a failure: the secret backend failed, or refused what it
	// was asked, such as a wrapping token from the local backend or a weak
	// key), it could not be audited and was therefore refused, or the store
	// failed. Every authorised issuance that ends in an error has an audit
	// record saying why.
	ResultError = "error"
)

// IssuanceObserver is told the outcome of every Issue and SignSSHKey call,
// for metrics (internal/metrics implements it). It learns the kind and the
// result only: no credential, token, inventory or secret. It is called on
// the caller's goroutine after the outcome is settled, so it must be quick,
// and safe for concurrent use.
type IssuanceObserver interface {
	ObserveIssuance(kind, result string)
}

// WithIssuanceObserver makes the broker report issuances to o (nil: none).
func WithIssuanceObserver(o IssuanceObserver) Option {
	return func(b *Broker) { b.observer = o }
}

// observeIssuance reports the outcome of one Issue or SignSSHKey call:
// err is what the call returns, failed says that it failed on Roster's side
// (the paths audited as failures). Other errors are the caller's (denied)
// unless their code says the store or the backend failed.
func (b *Broker) observeIssuance(kind string, err error, failed bool) {
	if b.observer == nil {
		return
	}
	result := ResultError
	switch {
	case err == nil:
		result = ResultIssued
	case failed:
	default:
		switch roster.ErrorCode(err) {
		case roster.EFORBIDDEN, roster.EUNAUTHORIZED, roster.EINVALID, roster.ENOTFOUND:
			result = ResultDenied
		}
	}
	b.observer.ObserveIssuance(kind, result)
}
