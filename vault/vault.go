package vault

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/rosterhq/roster"
	"golang.org/x/crypto/ssh"
)

// maxResponse bounds what is read of a Vault answer.
const maxResponse = 4 << 20

// Vault is the production secret backend: HashiCorp Vault's KV v2 engine,
// SSH engine and response wrapping, reached with a token or AppRole that it
// keeps alive by itself. It is safe for concurrent use; Close stops its
// background work.
type Vault struct {
	cfg       Config
	method    authMethod
	addr      string // for messages
	timeout   time.Duration
	log       *slog.Logger
	base      *api.Client // carries no token: each request sets its own
	transport *http.Transport

	mu     sync.Mutex
	sess   session
	closed bool
	// pending is the newest login for the supervisor to watch; authCh
	// tells it there is one.
	pending *authEvent
	authCh  chan struct{}

	// loginMu serialises logins; loginTries counts attempts and lastLogin
	// is the last attempt's error, so that callers who queued behind a
	// failed attempt share its result instead of each asking Vault.
	loginMu    sync.Mutex
	loginTries atomic.Uint64
	lastLogin  error
	failure    *loginFailure // credentials Vault rejected last (loginMu)
	now        func() time.Time

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	logins   atomic.Int64
	renewals atomic.Int64
}

// session is the token requests use; gen counts logins.
type session struct {
	token    string
	accessor string
	gen      uint64
}

var _ roster.SecretBackend = (*Vault)(nil)

// New returns a Vault backend. It fails only on a configuration error
// (roster.EINVALID, with the offending fields) or unreadable TLS files. It
// logs in right away, but a Vault that is down, sealed or refuses the login
// does not make New fail: the backend reports EUNAVAILABLE until Vault can
// serve, and recovers by itself. Call Health to know where it stands.
func New(ctx context.Context, cfg Config) (*Vault, error) {
	cfg, method, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	transport := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   cfg.Timeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        32,
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: cfg.Timeout,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
	}
	apiCfg := &api.Config{
		Address: cfg.Address,
		HttpClient: &http.Client{
			Transport: transport,
			// The api follows Vault's redirects itself (once, no downgrade).
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		Timeout:    cfg.Timeout,
		MaxRetries: 0, // fail fast: a sealed or absent Vault is reported, not waited for
	}
	if cfg.CACert != "" || cfg.ClientCert != "" || cfg.TLSServerName != "" {
		if err := apiCfg.ConfigureTLS(&api.TLSConfig{
			CACert:        cfg.CACert,
			ClientCert:    cfg.ClientCert,
			ClientKey:     cfg.ClientKey,
			TLSServerName: cfg.TLSServerName,
		}); err != nil {
			return nil, roster.Errorf(roster.EINVALID, "vault TLS configuration: %s", scrub(err.Error(), nil))
		}
	}
	client, err := api.NewClient(apiCfg)
	if err != nil {
		return nil, fmt.Errorf("vault: create client: %w", err)
	}
	// The api reads VAULT_TOKEN, VAULT_NAMESPACE, VAULT_HEADERS and
	// VAULT_WRAP_TTL from the environment; Roster is configured explicitly.
	client.ClearToken()
	headers := http.Header{}
	headers.Set(api.RequestHeaderName, "true")
	client.SetHeaders(headers)
	if cfg.Namespace != "" {
		client.SetNamespace(cfg.Namespace)
	}
	client.SetWrappingLookupFunc(func(string, string) string { return "" })

	v := &Vault{
		cfg:       cfg,
		method:    method,
		addr:      cfg.Address,
		timeout:   cfg.Timeout,
		log:       cfg.Logger.With("component", "vault"),
		base:      client,
		transport: transport,
		authCh:    make(chan struct{}, 1),
		now:       time.Now,
	}
	v.ctx, v.cancel = context.WithCancel(context.Background())
	v.wg.Add(1)
	go v.supervise()

	if _, err := v.login(ctx, 0); err != nil {
		v.log.Warn("Vault login at start failed; requests fail until Vault can serve",
			"addr", v.addr, "reason", roster.ErrorMessage(err))
	}
	return v, nil
}

// Kind implements roster.SecretBackend.
func (v *Vault) Kind() string { return "vault" }

// String describes the backend without its secrets.
func (v *Vault) String() string { return "vault backend at " + v.addr }

// Format implements fmt.Formatter: every verb (%v, %+v, %#v) prints String,
// never the fields that hold the token.
func (v *Vault) Format(f fmt.State, _ rune) { io.WriteString(f, v.String()) }

// LogValue implements slog.LogValuer.
func (v *Vault) LogValue() slog.Value { return slog.StringValue(v.String()) }

// Close stops the token's renewal, revokes a token Roster logged in for
// (AppRole), and makes every later call fail with EUNAVAILABLE. It waits for
// the background work to end, or for ctx.
func (v *Vault) Close(ctx context.Context) error {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return nil
	}
	v.closed = true
	s := v.sess
	v.sess = session{gen: s.gen + 1}
	v.mu.Unlock()

	v.cancel()
	done := make(chan struct{})
	go func() {
		v.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("vault: close: %w", ctx.Err())
	}
	if s.token != "" && v.method == authAppRole {
		rctx, cancel := context.WithTimeout(ctx, v.timeout)
		_, rerr := readBody(v.withToken(s.token).Logical().WriteRawWithContext(rctx, "auth/token/revoke-self", nil))
		cancel()
		if rerr != nil {
			v.log.Info("revoking Roster's Vault token at close failed; it expires by itself",
				"reason", roster.ErrorMessage(v.classify(ctx, "revoke Roster's token", rerr, []string{s.token})))
		}
	}
	v.transport.CloseIdleConnections()
	return err
}

func (v *Vault) isClosed() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.closed
}

// withToken returns the client with token (and optional wrap TTL) set on
// each of its requests. The shared base client never holds a token, so a
// request carries exactly the token it was started with.
func (v *Vault) withToken(token string, extra ...api.RequestCallback) *api.Client {
	return v.base.WithRequestCallbacks(append([]api.RequestCallback{func(r *api.Request) {
		r.ClientToken = token
	}}, extra...)...)
}

// callOpts are the optional parts of a call.
type callOpts struct {
	// secrets are values the request carries, scrubbed from Vault's text.
	secrets []string
	// wrapTTL asks Vault to wrap the response.
	wrapTTL time.Duration
}

// vaultRequest is one Vault request made with c; it keeps what it needs of
// the answer itself (reading the body before it returns).
type vaultRequest func(ctx context.Context, c *api.Client) error

// call runs one Vault request with Roster's token. A 403 is looked into: if
// the token itself is dead (revoked, expired) the backend logs in again once
// and repeats the request; if the token is fine the policy is missing a
// capability. Every request is bounded by the configured timeout.
func (v *Vault) call(ctx context.Context, op string, o callOpts, req vaultRequest) error {
	if v.isClosed() {
		return errClosed
	}
	s, err := v.session(ctx)
	if err != nil {
		return err
	}
	err = v.send(ctx, s.token, o, req)
	if !hasStatus(err, http.StatusForbidden) {
		return v.classify(ctx, op, err, append(o.secrets, s.token))
	}
	alive, err := v.tokenAlive(ctx, s.token)
	if err != nil {
		return err
	}
	if alive {
		return v.errDenied(op)
	}
	v.log.Warn("Vault no longer accepts Roster's token (revoked or expired); logging in again", "op", op)
	s, err = v.relogin(ctx, s, true)
	if err != nil {
		return err
	}
	err = v.send(ctx, s.token, o, req)
	return v.classify(ctx, op, err, append(o.secrets, s.token))
}

func (v *Vault) send(ctx context.Context, token string, o callOpts, req vaultRequest) error {
	var extra []api.RequestCallback
	if o.wrapTTL > 0 {
		ttl := strconv.Itoa(int(o.wrapTTL/time.Second)) + "s"
		extra = append(extra, func(r *api.Request) { r.WrapTTL = ttl })
	}
	ctx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()
	return req(ctx, v.withToken(token, extra...))
}

// readBody reads and closes a raw answer. The api's raw reads leave the
// body open for the caller.
func readBody(resp *api.Response, err error) ([]byte, error) {
	if resp != nil && resp.Body != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	if resp == nil || resp.Body == nil {
		return nil, nil
	}
	return io.ReadAll(io.LimitReader(resp.Body, maxResponse))
}

// tokenAlive asks Vault whether it still accepts token (lookup-self).
func (v *Vault) tokenAlive(ctx context.Context, token string) (bool, error) {
	_, err := v.withToken(token).Auth().Token().LookupSelfWithContext(ctx)
	switch {
	case err == nil:
		return true, nil
	case hasStatus(err, http.StatusForbidden):
		return false, nil
	}
	return false, v.classify(ctx, "look up Roster's token", err, []string{token})
}

// parseSecret decodes a Vault JSON answer.
func parseSecret(body []byte) (*api.Secret, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errors.New("empty answer")
	}
	s, err := api.ParseSecret(bytes.NewReader(body))
	if err != nil {
		return nil, errors.New("answer is not a Vault JSON document")
	}
	return s, nil
}

func (v *Vault) errBadAnswer(op string, why string) error {
	v.log.Error("unexpected answer from Vault", "op", op, "why", why)
	return roster.Errorf(roster.EUNAVAILABLE, "Vault at %s gave an unexpected answer to %s: %s", v.addr, op, why)
}

// ---- KV v2

func (v *Vault) kvPath(kind, path string) string {
	return v.cfg.KVMount + "/" + kind + "/" + v.cfg.PathPrefix + "/" + path
}

// noMount reports a 404 whose text says the mount itself is missing (a
// missing secret has an empty error list).
func noMount(err error) bool {
	re, ok := responseError(err)
	return ok && re.StatusCode == http.StatusNotFound && len(re.Errors) > 0
}

func (v *Vault) errNoKV() error {
	return roster.Errorf(roster.EUNAVAILABLE,
		"Vault has no KV version 2 engine at %s/: mount one there or set vault.kv_mount", v.cfg.KVMount)
}

// PutSecrets implements roster.SecretBackend with a check-and-set write to
// KV v2.
func (v *Vault) PutSecrets(ctx context.Context, path string, fields roster.SecretFields, cas int) (int, error) {
	if err := validatePut(path, fields, cas); err != nil {
		return 0, err
	}
	data := make(map[string]string, len(fields))
	secrets := make([]string, 0, len(fields))
	for k, s := range fields {
		data[k] = s.Reveal()
		secrets = append(secrets, s.Reveal())
	}
	op := "write the secret at " + path
	var s *api.Secret
	err := v.call(ctx, op, callOpts{secrets: secrets}, func(ctx context.Context, c *api.Client) (err error) {
		s, err = c.Logical().WriteWithContext(ctx, v.kvPath("data", path), map[string]any{
			"options": map[string]any{"cas": cas},
			"data":    data,
		})
		return err
	})
	if err != nil {
		if roster.ErrorCode(err) == roster.ECONFLICT {
			return 0, roster.Errorf(roster.ECONFLICT, "check-and-set: the secret at %s is not at version %d", path, cas)
		}
		if roster.ErrorCode(err) == roster.ENOTFOUND {
			return 0, v.errNoKV()
		}
		return 0, err
	}
	if s == nil {
		return 0, v.errBadAnswer(op, "empty answer")
	}
	version, ok := intField(s.Data, "version")
	if !ok {
		return 0, v.errBadAnswer(op, "no version in the answer (is "+v.cfg.KVMount+"/ a KV version 2 engine?)")
	}
	return version, nil
}

func intField(m map[string]any, key string) (int, bool) {
	switch n := m[key].(type) {
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil
	case float64:
		return int(n), true
	}
	return 0, false
}

// GetSecrets implements roster.SecretBackend: a read of the latest version.
func (v *Vault) GetSecrets(ctx context.Context, path string) (roster.SecretFields, roster.BackendInfo, error) {
	if err := validatePath(path); err != nil {
		return nil, roster.BackendInfo{}, err
	}
	op := "read the secret at " + path
	var (
		raw      []byte
		notFound error
	)
	err := v.call(ctx, op, callOpts{}, func(ctx context.Context, c *api.Client) (err error) {
		raw, err = readBody(c.Logical().ReadRawWithContext(ctx, v.kvPath("data", path)))
		if hasStatus(err, http.StatusNotFound) {
			// Not an error of the call: a missing (or deleted) secret.
			notFound = err
			return nil
		}
		return err
	})
	if err != nil {
		return nil, roster.BackendInfo{}, err
	}
	if notFound != nil {
		if noMount(notFound) {
			return nil, roster.BackendInfo{}, v.errNoKV()
		}
		return nil, roster.BackendInfo{}, roster.Errorf(roster.ENOTFOUND, "no secret at %s", path)
	}
	s, err := parseSecret(raw)
	clear(raw)
	if err != nil {
		return nil, roster.BackendInfo{}, v.errBadAnswer(op, err.Error())
	}
	data, _ := s.Data["data"].(map[string]any)
	meta, _ := s.Data["metadata"].(map[string]any)
	if data == nil {
		return nil, roster.BackendInfo{}, roster.Errorf(roster.ENOTFOUND, "no secret at %s", path)
	}
	version, _ := intField(meta, "version")
	fields := make(roster.SecretFields, len(data))
	for k, val := range data {
		switch x := val.(type) {
		case string:
			fields[k] = roster.Secret(x)
		default:
			// Written by something other than Roster: keep its JSON form.
			b, _ := json.Marshal(x)
			fields[k] = roster.Secret(b)
		}
	}
	return fields, roster.BackendInfo{Version: version, RequestID: s.RequestID}, nil
}

// DeleteSecrets implements roster.SecretBackend: it deletes the path's
// metadata, and with it every version. Deleting nothing succeeds.
func (v *Vault) DeleteSecrets(ctx context.Context, path string) error {
	if err := validatePath(path); err != nil {
		return err
	}
	err := v.call(ctx, "delete the secret at "+path, callOpts{}, func(ctx context.Context, c *api.Client) error {
		_, err := readBody(c.Logical().DeleteRawWithContext(ctx, v.kvPath("metadata", path)))
		return err
	})
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		return v.errNoKV()
	}
	return err
}

// ---- SSH

func validateRole(role string) error {
	if role == "" {
		return roster.Invalid(roster.FieldError{Field: "role", Message: "is required: the Vault SSH role that signs"})
	}
	if strings.Contains(role, "/") || validateMount(role) != "" {
		return roster.Invalid(roster.FieldError{Field: "role", Message: "must be a role name (letters, digits, and . _ - @ = +)"})
	}
	return nil
}

// SignSSHKey implements roster.SecretBackend with the SSH engine's sign
// endpoint. The role decides what Vault allows (principals, TTL, key id,
// extensions); a request outside it is refused with EINVALID.
func (v *Vault) SignSSHKey(ctx context.Context, req roster.SSHSignRequest) (*roster.SSHCertificate, error) {
	sr, err := validateSignRequest(req)
	if err != nil {
		return nil, err
	}
	if err := validateRole(req.Role); err != nil {
		return nil, err
	}
	ttl := req.TTL.Round(time.Second)
	if ttl < time.Second {
		ttl = time.Second
	}
	params := map[string]any{
		"public_key":       req.PublicKey,
		"cert_type":        "user",
		"valid_principals": strings.Join(req.Principals, ","),
		"ttl":              strconv.Itoa(int(ttl/time.Second)) + "s",
	}
	if req.KeyID != "" {
		params["key_id"] = req.KeyID
	}
	op := "sign an SSH key with role " + req.Role
	var (
		s        *api.Secret
		notFound error
	)
	err = v.call(ctx, op, callOpts{}, func(ctx context.Context, c *api.Client) (err error) {
		s, err = c.Logical().WriteWithContext(ctx, v.cfg.SSHMount+"/sign/"+req.Role, params)
		if hasStatus(err, http.StatusNotFound) {
			notFound = err
			return nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if notFound != nil {
		return nil, roster.Errorf(roster.EUNAVAILABLE,
			"Vault has no SSH secrets engine at %s/: mount one there or set vault.ssh_mount", v.cfg.SSHMount)
	}
	if s == nil {
		return nil, v.errBadAnswer(op, "empty answer")
	}
	signed, _ := s.Data["signed_key"].(string)
	cert, err := parseCertificate(signed)
	if err != nil {
		return nil, v.errBadAnswer(op, "signed_key is not an SSH certificate")
	}
	if !bytes.Equal(cert.Key.Marshal(), sr.key.Marshal()) || cert.CertType != ssh.UserCert {
		return nil, v.errBadAnswer(op, "the certificate is not a user certificate of the key given")
	}
	return certificateResult(cert, s.RequestID), nil
}

// SSHCAPublicKey implements roster.SecretBackend with the SSH engine's
// public_key endpoint. One engine has one CA, whatever the role.
func (v *Vault) SSHCAPublicKey(ctx context.Context, role string) (string, error) {
	op := "read the SSH CA public key of " + v.cfg.SSHMount + "/"
	var (
		raw     []byte
		missing error
	)
	err := v.call(ctx, op, callOpts{}, func(ctx context.Context, c *api.Client) (err error) {
		raw, err = readBody(c.Logical().ReadRawWithContext(ctx, v.cfg.SSHMount+"/public_key"))
		if hasStatus(err, http.StatusNotFound) || hasStatus(err, http.StatusBadRequest) {
			missing = err
			return nil
		}
		return err
	})
	if err != nil {
		return "", err
	}
	if missing != nil {
		return "", roster.Errorf(roster.EUNAVAILABLE,
			"Vault's SSH engine at %s/ has no CA key (or is not mounted): configure one with `vault write %s/config/ca generate_signing_key=true`",
			v.cfg.SSHMount, v.cfg.SSHMount)
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey(raw)
	if err != nil {
		return "", v.errBadAnswer(op, "not an SSH public key")
	}
	return authorizedKey(key), nil
}

// ---- response wrapping

// Wrap implements roster.SecretBackend with sys/wrapping/wrap: Vault keeps
// data for a single unwrap within ttl (whole seconds).
func (v *Vault) Wrap(ctx context.Context, data map[string]roster.Secret, ttl time.Duration) (*roster.WrappedSecret, error) {
	if err := validateWrap(data, ttl); err != nil {
		return nil, err
	}
	plain := make(map[string]any, len(data))
	secrets := make([]string, 0, len(data))
	for k, s := range data {
		plain[k] = s.Reveal()
		secrets = append(secrets, s.Reveal())
	}
	op := "wrap a response"
	var s *api.Secret
	err := v.call(ctx, op, callOpts{secrets: secrets, wrapTTL: ttl}, func(ctx context.Context, c *api.Client) (err error) {
		s, err = c.Logical().WriteWithContext(ctx, "sys/wrapping/wrap", plain)
		return err
	})
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, v.errBadAnswer(op, "empty answer")
	}
	if s.WrapInfo == nil || s.WrapInfo.Token == "" {
		return nil, v.errBadAnswer(op, "no wrapping token in the answer")
	}
	return &roster.WrappedSecret{
		Token:     roster.Secret(s.WrapInfo.Token),
		TTL:       time.Duration(s.WrapInfo.TTL) * time.Second,
		Accessor:  s.WrapInfo.Accessor,
		CreatedAt: s.WrapInfo.CreationTime,
	}, nil
}

// ---- health

// Health implements roster.SecretBackend: within the timeout, Vault
// answers, is initialised and unsealed, and accepts Roster's token.
func (v *Vault) Health(ctx context.Context) error {
	if v.isClosed() {
		return errClosed
	}
	hctx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()
	h, err := v.base.Sys().HealthWithContext(hctx)
	if err != nil {
		return v.classify(ctx, "report its health", err, nil)
	}
	switch {
	case !h.Initialized:
		return roster.Errorf(roster.EUNAVAILABLE, "Vault at %s is not initialised", v.addr)
	case h.Sealed:
		return v.errSealed()
	}
	err = v.call(hctx, "look up Roster's token", callOpts{}, func(ctx context.Context, c *api.Client) error {
		_, err := readBody(c.Logical().ReadRawWithContext(ctx, "auth/token/lookup-self"))
		return err
	})
	if err != nil && ctx.Err() == nil && hctx.Err() != nil {
		return v.errUnreachable("no answer within " + v.timeout.String())
	}
	return err
}
