package vault

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/api/auth/approle"
	"github.com/rosterhq/roster"
)

// maxCredentialFile bounds what is read of a token or secret_id file.
const maxCredentialFile = 16 << 10

// authEvent hands a fresh login to the supervisor, which watches its
// lifetime.
type authEvent struct {
	gen  uint64
	auth *api.SecretAuth
}

// session returns the current token, logging in first when there is none
// (at start, or after a failed login).
func (v *Vault) session(ctx context.Context) (session, error) {
	v.mu.Lock()
	s, closed := v.sess, v.closed
	v.mu.Unlock()
	if closed {
		return session{}, errClosed
	}
	if s.token != "" {
		return s, nil
	}
	return v.login(ctx, s.gen)
}

// relogin replaces the session stale by a new login. With drop, the stale
// token is forgotten even if the login fails (Vault refused it); without,
// it is kept (it still works for a while, e.g. near its max TTL).
func (v *Vault) relogin(ctx context.Context, stale session, drop bool) (session, error) {
	if drop {
		v.mu.Lock()
		if v.sess.gen == stale.gen && v.sess.token == stale.token {
			v.sess.token, v.sess.accessor = "", ""
		}
		v.mu.Unlock()
	}
	return v.login(ctx, stale.gen)
}

// login authenticates unless someone already replaced the session of
// generation staleGen. Concurrent callers share one attempt: whoever queued
// behind an attempt takes its result.
func (v *Vault) login(ctx context.Context, staleGen uint64) (session, error) {
	tries := v.loginTries.Load()
	v.loginMu.Lock()
	defer v.loginMu.Unlock()

	v.mu.Lock()
	cur, closed := v.sess, v.closed
	v.mu.Unlock()
	switch {
	case closed:
		return session{}, errClosed
	case cur.gen != staleGen && cur.token != "":
		return cur, nil // logged in meanwhile
	case v.loginTries.Load() != tries && cur.token == "" && v.lastLogin != nil:
		return session{}, v.lastLogin // an attempt failed meanwhile
	}

	token, auth, err := v.authenticate(ctx)
	v.loginTries.Add(1)
	v.lastLogin = err
	if err != nil {
		return session{}, err
	}

	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return session{}, errClosed
	}
	if token == v.sess.token {
		// The token's source had nothing new (a token, or a file not yet
		// rotated): keep the session and its watcher.
		cur := v.sess
		v.mu.Unlock()
		return cur, nil
	}
	next := session{token: token, accessor: auth.Accessor, gen: v.sess.gen + 1}
	v.sess = next
	v.pending = &authEvent{gen: next.gen, auth: auth}
	v.mu.Unlock()
	select {
	case v.authCh <- struct{}{}:
	default: // the supervisor has a notice already; it reads the newest event
	}
	v.logins.Add(1)
	v.log.Info("logged in to Vault", "method", v.methodName(),
		"ttl", (time.Duration(auth.LeaseDuration) * time.Second).String(), "renewable", auth.Renewable)
	return next, nil
}

func (v *Vault) methodName() string {
	switch v.method {
	case authAppRole:
		return "approle"
	case authTokenFile:
		return "token_file"
	}
	return "token"
}

// credentials are what one login presents, read afresh (files included).
type credentials struct {
	token            string
	roleID, secretID string
}

// fingerprint identifies credentials without keeping them: a login
// rejected with these credentials is not retried until they change or
// their retry time comes.
func (c credentials) fingerprint() [32]byte {
	return sha256.Sum256([]byte(c.token + "\x00" + c.roleID + "\x00" + c.secretID))
}

// loginFailure remembers credentials Vault rejected.
type loginFailure struct {
	fingerprint [32]byte
	count       int // consecutive rejections of these credentials
	retryAt     time.Time
	err         error
}

// retryDelay is how long rejected credentials rest before they are tried
// again (unless they change: a rotated file is tried at once). Vault 1.13+
// locks an AppRole role_id out for 15 minutes after 5 failed logins within
// 15 minutes of each other (its "user lockout" defaults); the schedule stays
// below that, so that the role is not locked when the operator fixes the
// secret_id. Tokens have no lockout.
func (v *Vault) retryDelay(count int) time.Duration {
	if v.method != authAppRole {
		return 10 * time.Second
	}
	switch count {
	case 1:
		return time.Minute
	case 2:
		return 5 * time.Minute
	case 3:
		return 15 * time.Minute
	}
	return 16 * time.Minute
}

// authenticate obtains a token the configured way. Credentials Vault has
// rejected are not presented again until they change or rest long enough
// (see retryDelay); the caller holds loginMu.
func (v *Vault) authenticate(ctx context.Context) (string, *api.SecretAuth, error) {
	creds, err := v.readCredentials()
	if err != nil {
		return "", nil, err
	}
	fp := creds.fingerprint()
	if f := v.failure; f != nil && f.fingerprint == fp && v.now().Before(f.retryAt) {
		return "", nil, f.err
	}
	var (
		token    string
		auth     *api.SecretAuth
		rejected bool
	)
	if v.method == authAppRole {
		token, auth, rejected, err = v.loginAppRole(ctx, creds)
	} else {
		token, auth, rejected, err = v.checkToken(ctx, creds.token)
	}
	switch {
	case err == nil:
		v.failure = nil
	case rejected:
		f := &loginFailure{fingerprint: fp, count: 1, err: err}
		if v.failure != nil && v.failure.fingerprint == fp {
			f.count = v.failure.count + 1
		}
		f.retryAt = v.now().Add(v.retryDelay(f.count))
		v.failure = f
		v.log.Warn("Vault rejected Roster's credentials; they are tried again when they change, or later",
			"method", v.methodName(), "retry_at", f.retryAt.Format(time.RFC3339), "reason", roster.ErrorMessage(err))
	}
	return token, auth, err
}

// readCredentials reads the configured credentials, files afresh.
func (v *Vault) readCredentials() (credentials, error) {
	var (
		c   credentials
		err error
	)
	switch v.method {
	case authTokenFile:
		if c.token, err = readCredentialFile(v.cfg.TokenFile); err != nil {
			return c, roster.Errorf(roster.EUNAVAILABLE, "cannot read the Vault token file: %s", err)
		}
	case authToken:
		c.token = strings.TrimSpace(v.cfg.Token.Reveal())
	case authAppRole:
		a := v.cfg.AppRole
		c.roleID, c.secretID = strings.TrimSpace(a.RoleID.Reveal()), strings.TrimSpace(a.SecretID.Reveal())
		if a.RoleIDFile != "" {
			if c.roleID, err = readCredentialFile(a.RoleIDFile); err != nil {
				return c, roster.Errorf(roster.EUNAVAILABLE, "cannot read the AppRole role_id file: %s", err)
			}
		}
		if a.SecretIDFile != "" {
			if c.secretID, err = readCredentialFile(a.SecretIDFile); err != nil {
				return c, roster.Errorf(roster.EUNAVAILABLE, "cannot read the AppRole secret_id file: %s", err)
			}
		}
	}
	return c, nil
}

// readCredentialFile reads a token or secret_id file; the error names the
// file, never its content.
func readCredentialFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", errors.New(osReason(path, err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCredentialFile))
	if err != nil {
		return "", fmt.Errorf("%s: read failed", path)
	}
	s := strings.TrimSpace(string(b))
	clear(b)
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}

func osReason(path string, err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return path + " does not exist"
	case errors.Is(err, os.ErrPermission):
		return path + " is not readable by Roster"
	}
	return path + ": cannot be opened"
}

// checkToken looks a configured token up, for its TTL. rejected says Vault
// refused the token itself.
func (v *Vault) checkToken(ctx context.Context, token string) (string, *api.SecretAuth, bool, error) {
	s, err := v.withToken(token).Auth().Token().LookupSelfWithContext(ctx)
	if hasStatus(err, http.StatusForbidden) {
		return "", nil, true, v.errTokenRejected()
	}
	if err != nil {
		return "", nil, false, v.classify(ctx, "look up Roster's token", err, []string{token})
	}
	ttl, _ := s.TokenTTL()
	renewable, _ := s.TokenIsRenewable()
	accessor, _ := s.TokenAccessor()
	return token, &api.SecretAuth{
		ClientToken:   token,
		Accessor:      accessor,
		LeaseDuration: int(ttl / time.Second),
		Renewable:     renewable,
	}, false, nil
}

func (v *Vault) errTokenRejected() error {
	if v.method == authTokenFile {
		return roster.Errorf(roster.EUNAVAILABLE,
			"Vault rejected the token in %s (revoked, expired or unknown): write a valid token to that file; Roster reads it again at the next request",
			v.cfg.TokenFile)
	}
	return roster.Errorf(roster.EUNAVAILABLE,
		"Vault rejected Roster's token (revoked, expired or unknown): configure a valid token (vault.token, or vault.token_file so it can be rotated without a restart)")
}

// loginAppRole logs in with AppRole. rejected says Vault refused the
// credentials (or the role is locked out).
func (v *Vault) loginAppRole(ctx context.Context, c credentials) (string, *api.SecretAuth, bool, error) {
	mount := v.cfg.AppRole.Mount
	secrets := []string{c.roleID, c.secretID}
	method, err := approle.NewAppRoleAuth(c.roleID, &approle.SecretID{FromString: c.secretID}, approle.WithMountPath(mount))
	if err != nil {
		return "", nil, false, roster.Errorf(roster.EUNAVAILABLE, "AppRole login: %s", scrub(err.Error(), secrets))
	}
	s, err := method.Login(ctx, v.base)
	if err != nil {
		re, ok := responseError(err)
		rejected := ok && (re.StatusCode == http.StatusBadRequest || re.StatusCode == http.StatusForbidden)
		return "", nil, rejected, v.appRoleError(ctx, err, secrets)
	}
	if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
		return "", nil, false, roster.Errorf(roster.EUNAVAILABLE, "Vault's AppRole login at auth/%s returned no token", mount)
	}
	return s.Auth.ClientToken, s.Auth, false, nil
}

// appRoleError explains a failed AppRole login: what Vault said, and what
// the operator must do.
func (v *Vault) appRoleError(ctx context.Context, err error, secrets []string) error {
	a := v.cfg.AppRole
	re, ok := responseError(err)
	if !ok {
		return v.classify(ctx, "log in with AppRole", err, secrets)
	}
	text := strings.ToLower(vaultText(re, secrets))
	secretSource := "approle.secret_id (and restart Roster), or use approle.secret_id_file"
	if a.SecretIDFile != "" {
		secretSource = a.SecretIDFile + " (Roster reads it again at the next request)"
	}
	switch {
	case re.StatusCode == http.StatusBadRequest && strings.Contains(text, "secret id"),
		re.StatusCode == http.StatusBadRequest && strings.Contains(text, "secret_id"):
		return roster.Errorf(roster.EUNAVAILABLE,
			"Vault refused Roster's AppRole login at auth/%s: the secret_id is invalid, expired or used up; issue a new one (vault write -f auth/%s/role/ROLE/secret-id) and put it in %s",
			a.Mount, a.Mount, secretSource)
	case re.StatusCode == http.StatusBadRequest && strings.Contains(text, "role id"):
		return roster.Errorf(roster.EUNAVAILABLE,
			"Vault refused Roster's AppRole login at auth/%s: the role_id is unknown (wrong role_id, or the role was deleted); set approle.role_id to the role's id (vault read auth/%s/role/ROLE/role-id)",
			a.Mount, a.Mount)
	case re.StatusCode == http.StatusBadRequest:
		return roster.Errorf(roster.EUNAVAILABLE, "Vault refused Roster's AppRole login at auth/%s: %s", a.Mount, vaultText(re, secrets))
	case re.StatusCode == http.StatusForbidden:
		return roster.Errorf(roster.EUNAVAILABLE,
			"Vault refused Roster's AppRole login at auth/%s with permission denied: either the role is locked out after repeated failed logins (Vault's user lockout: 15 minutes by default; `vault write -f sys/locked-users/MOUNT_ACCESSOR/unlock/ROLE_ID` lifts it) or AppRole is not enabled at that mount (vault.approle.mount)",
			a.Mount)
	}
	return v.classify(ctx, "log in with AppRole", err, secrets)
}

// ---- keeping the token alive

// supervise runs until Close: it watches the lifetime of the newest login
// with the api's LifetimeWatcher, and when the watcher ends (renewal
// failed, or the token reached its max TTL) logs in again.
func (v *Vault) supervise() {
	defer v.wg.Done()
	var (
		w    *api.LifetimeWatcher
		wgen uint64
	)
	stop := func() {
		if w != nil {
			w.Stop()
			w = nil
		}
	}
	defer stop()
	for {
		var (
			doneCh  <-chan error
			renewCh <-chan *api.RenewOutput
		)
		if w != nil {
			doneCh, renewCh = w.DoneCh(), w.RenewCh()
		}
		select {
		case <-v.ctx.Done():
			return
		case <-v.authCh:
			v.mu.Lock()
			ev := v.pending
			v.pending = nil
			v.mu.Unlock()
			if ev == nil {
				continue
			}
			stop()
			w, wgen = v.watch(ev), ev.gen
		case r := <-renewCh:
			v.renewals.Add(1)
			ttl := time.Duration(0)
			if r != nil && r.Secret != nil && r.Secret.Auth != nil {
				ttl = time.Duration(r.Secret.Auth.LeaseDuration) * time.Second
			}
			v.log.Debug("renewed Roster's Vault token", "ttl", ttl.String())
		case err := <-doneCh:
			w = nil
			if err != nil {
				v.log.Warn("renewing Roster's Vault token failed; logging in again",
					"reason", roster.ErrorMessage(v.classify(nil, "renew Roster's token", err, nil)))
			} else {
				// DoneCh yields nil when the token reaches its max TTL (or
				// cannot be renewed further): that is no success, the token
				// is about to expire.
				v.log.Info("Roster's Vault token reaches its max TTL; logging in again")
			}
			v.reloginInBackground(wgen)
		}
	}
}

// watch starts a LifetimeWatcher for a login, or none for a token that
// does not expire (TTL 0, e.g. a root token).
func (v *Vault) watch(ev *authEvent) *api.LifetimeWatcher {
	if ev.auth == nil || ev.auth.LeaseDuration <= 0 {
		return nil
	}
	w, err := v.base.NewLifetimeWatcher(&api.LifetimeWatcherInput{
		Secret:        &api.Secret{Auth: ev.auth},
		RenewBehavior: api.RenewBehaviorIgnoreErrors,
	})
	if err != nil {
		v.log.Warn("cannot watch Roster's Vault token; it will be replaced when Vault rejects it", "reason", err.Error())
		return nil
	}
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		w.Start()
	}()
	return w
}

// reloginInBackground replaces the session of generation gen before its
// token expires. AppRole logins are retried with backoff until one works,
// another login happens, or Close; a token can only be re-read from its
// file.
func (v *Vault) reloginInBackground(gen uint64) {
	delay := time.Second
	for {
		v.mu.Lock()
		cur := v.sess
		v.mu.Unlock()
		if cur.gen != gen {
			return // replaced meanwhile
		}
		ctx, cancel := context.WithTimeout(v.ctx, 2*v.timeout)
		s, err := v.relogin(ctx, cur, false)
		cancel()
		switch {
		case v.ctx.Err() != nil:
			return
		case err == nil && s.token == cur.token:
			v.log.Warn("Roster's Vault token reaches its max TTL and its source has no new one: it stops working when it expires",
				"method", v.methodName())
			return
		case err == nil:
			return
		case v.method != authAppRole:
			v.log.Warn("logging in to Vault again failed", "reason", roster.ErrorMessage(err))
			return
		}
		v.log.Warn("logging in to Vault again failed; retrying", "retry_in", delay, "reason", roster.ErrorMessage(err))
		t := time.NewTimer(delay)
		select {
		case <-v.ctx.Done():
			t.Stop()
			return
		case <-v.authCh:
			// A request logged in meanwhile: hand its login back to the
			// supervisor's loop, which watches it.
			t.Stop()
			select {
			case v.authCh <- struct{}{}:
			default:
			}
			return
		case <-t.C:
		}
		delay = min(2*delay, 30*time.Second)
	}
}
