package vault

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/rosterhq/roster"
	"golang.org/x/crypto/ssh"
)

// localCAPath is where the local SSH CA's sealed private key is kept.
const localCAPath = reservedPrefix + "/ssh-user-ca"

// localCAKeyField is the sealed field holding the CA key (OpenSSH PEM).
const localCAKeyField = "private_key"

// LocalOptions tunes a Local backend; the zero value is fine.
type LocalOptions struct {
	// Logger receives the backend's log records (default slog.Default()).
	Logger *slog.Logger
	// Timeout bounds each store call (default 2s).
	Timeout time.Duration
	// Now is the clock (default time.Now), for tests.
	Now func() time.Time
}

// Local is the embedded secret backend: secret fields sealed with
// AES-256-GCM in Roster's database, and a local ed25519 SSH user CA. It is
// meant for one-machine starts; Vault is the production backend.
type Local struct {
	store   roster.SecretBlobStore
	sealer  *sealer
	keyID   string
	log     *slog.Logger
	timeout time.Duration
	now     func() time.Time
}

var _ roster.SecretBackend = (*Local)(nil)

// NewLocal returns a local backend that keeps sealed secrets in store (the
// SQLite store implements roster.SecretBlobStore) under key.
func NewLocal(store roster.SecretBlobStore, key *LocalKey, opts LocalOptions) (*Local, error) {
	if store == nil {
		return nil, errors.New("vault: NewLocal: no store")
	}
	if key == nil {
		return nil, errors.New("vault: NewLocal: no key")
	}
	s, err := newSealer(key)
	if err != nil {
		return nil, err
	}
	l := &Local{store: store, sealer: s, keyID: key.ID(), log: opts.Logger, timeout: opts.Timeout, now: opts.Now}
	if l.log == nil {
		l.log = slog.Default()
	}
	if l.timeout <= 0 {
		l.timeout = defaultTimeout
	}
	if l.now == nil {
		l.now = time.Now
	}
	return l, nil
}

// Kind implements roster.SecretBackend.
func (l *Local) Kind() string { return "local" }

// String describes the backend without its key.
func (l *Local) String() string { return "local secret backend (key id " + l.keyID + ")" }

// Format implements fmt.Formatter: every verb prints String.
func (l *Local) Format(f fmt.State, _ rune) { io.WriteString(f, l.String()) }

// LogValue implements slog.LogValuer.
func (l *Local) LogValue() slog.Value { return slog.StringValue(l.String()) }

// storeErr turns a store failure into a roster error: the store's own
// ECONFLICT and ENOTFOUND pass through; anything else means the backend
// cannot serve.
func (l *Local) storeErr(op, path string, err error) error {
	if err == nil {
		return nil
	}
	switch roster.ErrorCode(err) {
	case roster.ECONFLICT, roster.ENOTFOUND, roster.EINVALID:
		return err
	}
	l.log.Error("local secret store failed", "op", op, "path", path, "err", err)
	if errors.Is(err, context.DeadlineExceeded) {
		return roster.Errorf(roster.EUNAVAILABLE, "the local secret store did not answer within %s", l.timeout)
	}
	return roster.Errorf(roster.EUNAVAILABLE, "the local secret store failed to %s (details in the server log)", op)
}

// openErr turns a failure to open a blob into a roster error.
func (l *Local) openErr(path string, blob []byte, err error) error {
	if errors.Is(err, errWrongKey) {
		l.log.Error("local secret sealed with another key", "path", path, "blob_key_id", blobKeyID(blob), "key_id", l.keyID)
		return roster.Errorf(roster.EUNAVAILABLE,
			"the secret at %s was sealed with another local key (key id %s, configured key id %s): configure the key it was sealed with",
			path, blobKeyID(blob), l.keyID)
	}
	l.log.Error("local secret failed authentication", "path", path)
	return roster.Errorf(roster.EINTERNAL,
		"the sealed secret at %s failed authentication: it was altered or moved from another path", path)
}

// PutSecrets implements roster.SecretBackend.
func (l *Local) PutSecrets(ctx context.Context, path string, fields roster.SecretFields, cas int) (int, error) {
	if err := validatePut(path, fields, cas); err != nil {
		return 0, err
	}
	plain := make(map[string]string, len(fields))
	for k, v := range fields {
		plain[k] = v.Reveal()
	}
	blob, err := l.sealer.seal(path, plain)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	version, err := l.store.PutSecretBlob(ctx, path, blob, cas)
	if err != nil {
		return 0, l.storeErr("write a secret", path, err)
	}
	return version, nil
}

func validatePut(path string, fields roster.SecretFields, cas int) error {
	if err := validatePath(path); err != nil {
		return err
	}
	if err := validateCAS(cas); err != nil {
		return err
	}
	return validateFields(fields)
}

// GetSecrets implements roster.SecretBackend.
func (l *Local) GetSecrets(ctx context.Context, path string) (roster.SecretFields, roster.BackendInfo, error) {
	if err := validatePath(path); err != nil {
		return nil, roster.BackendInfo{}, err
	}
	plain, version, err := l.read(ctx, path)
	if err != nil {
		return nil, roster.BackendInfo{}, err
	}
	fields := make(roster.SecretFields, len(plain))
	for k, v := range plain {
		fields[k] = roster.Secret(v)
	}
	return fields, roster.BackendInfo{Version: version}, nil
}

// read fetches and opens the blob at path (reserved paths included).
func (l *Local) read(ctx context.Context, path string) (map[string]string, int, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	blob, version, err := l.store.SecretBlob(ctx, path)
	if err != nil {
		if roster.ErrorCode(err) == roster.ENOTFOUND {
			return nil, 0, roster.Errorf(roster.ENOTFOUND, "no secret at %s", path)
		}
		return nil, 0, l.storeErr("read a secret", path, err)
	}
	plain, err := l.sealer.open(path, blob)
	if err != nil {
		return nil, 0, l.openErr(path, blob, err)
	}
	return plain, version, nil
}

// DeleteSecrets implements roster.SecretBackend. Deleting a path that holds
// nothing succeeds, as it does on Vault.
func (l *Local) DeleteSecrets(ctx context.Context, path string) error {
	if err := validatePath(path); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	err := l.store.DeleteSecretBlob(ctx, path)
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		return nil
	}
	return l.storeErr("delete a secret", path, err)
}

// Wrap implements roster.SecretBackend: the local backend has no response
// wrapping.
func (l *Local) Wrap(context.Context, map[string]roster.Secret, time.Duration) (*roster.WrappedSecret, error) {
	return nil, roster.Errorf(roster.EINVALID, "response wrapping needs the Vault backend")
}

// Opens reports whether the blob at path, reserved paths included (the
// local SSH CA's key), opens with the key: restore's check that a key is
// the one that sealed a copy's secrets. The secret is not returned.
func (l *Local) Opens(ctx context.Context, path string) error {
	_, _, err := l.read(ctx, path)
	return err
}

// Health implements roster.SecretBackend: the store answers, and the local
// CA's key (if there is one yet) opens with the configured key.
func (l *Local) Health(ctx context.Context) error {
	_, _, err := l.read(ctx, localCAPath)
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		return nil
	}
	return err
}

// ---- the local SSH CA

// caSigner loads the CA key, creating it on first use. It is read (and
// opened) on every call: no secret outlives the call that needs it.
func (l *Local) caSigner(ctx context.Context) (ssh.Signer, error) {
	for attempt := 0; ; attempt++ {
		plain, _, err := l.read(ctx, localCAPath)
		if err == nil {
			return parseCAKey(plain[localCAKeyField])
		}
		if roster.ErrorCode(err) != roster.ENOTFOUND || attempt > 0 {
			return nil, err
		}
		// First use: generate the CA and store it if nobody did meanwhile
		// (check-and-set 0); on a conflict, read the winner's.
		pemText, err := newCAKey()
		if err != nil {
			return nil, err
		}
		blob, err := l.sealer.seal(localCAPath, map[string]string{localCAKeyField: pemText})
		if err != nil {
			return nil, err
		}
		wctx, cancel := context.WithTimeout(ctx, l.timeout)
		_, err = l.store.PutSecretBlob(wctx, localCAPath, blob, 0)
		cancel()
		switch roster.ErrorCode(err) {
		case "":
			l.log.Info("created the local SSH certificate authority")
			return parseCAKey(pemText)
		case roster.ECONFLICT:
			continue
		default:
			return nil, l.storeErr("store the SSH CA key", localCAPath, err)
		}
	}
}

func newCAKey() (string, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	block, err := ssh.MarshalPrivateKey(priv, "roster local SSH user CA")
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(block)), nil
}

func parseCAKey(pemText string) (ssh.Signer, error) {
	key, err := ssh.ParseRawPrivateKey([]byte(pemText))
	if err != nil {
		return nil, roster.Errorf(roster.EINTERNAL, "the local SSH CA key cannot be parsed")
	}
	return ssh.NewSignerFromKey(key)
}

// localCertExtensions are the permissions a local certificate carries: a
// login with a terminal, ~/.ssh/rc, and the forwardings Ansible's
// connection options may use. No X11.
var localCertExtensions = map[string]string{
	"permit-pty":              "",
	"permit-user-rc":          "",
	"permit-port-forwarding":  "",
	"permit-agent-forwarding": "",
}

// SignSSHKey implements roster.SecretBackend. The local CA signs exactly
// what Roster asks for (Role is ignored); Roster's credential configuration
// is what limits principals and TTL.
func (l *Local) SignSSHKey(ctx context.Context, req roster.SSHSignRequest) (*roster.SSHCertificate, error) {
	sr, err := validateSignRequest(req)
	if err != nil {
		return nil, err
	}
	if err := checkKeyStrength(sr.key); err != nil {
		return nil, err
	}
	signer, err := l.caSigner(ctx)
	if err != nil {
		return nil, err
	}
	var serial [8]byte
	if _, err := rand.Read(serial[:]); err != nil {
		return nil, err
	}
	now := l.now()
	keyID := req.KeyID
	if keyID == "" {
		keyID = "roster"
	}
	cert := &ssh.Certificate{
		Key:             sr.key,
		Serial:          binary.BigEndian.Uint64(serial[:]),
		CertType:        ssh.UserCert,
		KeyId:           keyID,
		ValidPrincipals: append([]string(nil), req.Principals...),
		ValidAfter:      uint64(now.Add(-sshClockSkewBack).Unix()),
		ValidBefore:     uint64(now.Add(req.TTL).Unix()),
		Permissions:     ssh.Permissions{Extensions: cloneMap(localCertExtensions)},
	}
	if err := cert.SignCert(rand.Reader, signer); err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	return certificateResult(cert, ""), nil
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// checkKeyStrength refuses keys no current sshd should accept.
func checkKeyStrength(key ssh.PublicKey) error {
	bad := func(msg string) error {
		return roster.Invalid(roster.FieldError{Field: "public_key", Message: msg})
	}
	switch key.Type() {
	case ssh.KeyAlgoDSA:
		return bad("DSA keys are not accepted")
	case ssh.KeyAlgoRSA:
		ck, ok := key.(ssh.CryptoPublicKey)
		if !ok {
			return nil
		}
		if rk, ok := ck.CryptoPublicKey().(interface{ Size() int }); ok && rk.Size()*8 < 2048 {
			return bad("RSA keys must have at least 2048 bits")
		}
	}
	return nil
}

// SSHCAPublicKey implements roster.SecretBackend: the local CA's public key
// in authorized_keys format (for sshd's TrustedUserCAKeys). role is ignored.
func (l *Local) SSHCAPublicKey(ctx context.Context, _ string) (string, error) {
	signer, err := l.caSigner(ctx)
	if err != nil {
		return "", err
	}
	return authorizedKey(signer.PublicKey()), nil
}

func authorizedKey(k ssh.PublicKey) string {
	b := ssh.MarshalAuthorizedKey(k)
	return string(b[:len(b)-1])
}
