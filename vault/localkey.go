package vault

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/rosterhq/roster"
)

// LocalKeySize is the length of the local backend's key: AES-256.
const LocalKeySize = 32

// LocalKey is the local backend's secret key. It redacts itself in every
// formatting path; only Encode reveals it (as a roster.Secret).
type LocalKey struct {
	b [LocalKeySize]byte
}

// GenerateLocalKey returns a new random key.
func GenerateLocalKey() (*LocalKey, error) {
	var k LocalKey
	if _, err := rand.Read(k.b[:]); err != nil {
		return nil, fmt.Errorf("generate local secret key: %w", err)
	}
	return &k, nil
}

// KeyFromBase64 decodes a key given as base64 (standard or URL alphabet,
// padded or not), e.g. from an environment variable. The error never
// contains the value.
func KeyFromBase64(s roster.Secret) (*LocalKey, error) {
	v := strings.TrimSpace(s.Reveal())
	if v == "" {
		return nil, roster.Errorf(roster.EINVALID, "local secret key is empty: give %d random bytes in base64 (e.g. `head -c 32 /dev/urandom | base64`)", LocalKeySize)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(v)
		if err != nil {
			continue
		}
		if len(b) != LocalKeySize {
			return nil, roster.Errorf(roster.EINVALID, "local secret key decodes to %d bytes, not %d", len(b), LocalKeySize)
		}
		var k LocalKey
		copy(k.b[:], b)
		clear(b)
		return &k, nil
	}
	return nil, roster.Errorf(roster.EINVALID, "local secret key is not valid base64 (want %d random bytes in base64)", LocalKeySize)
}

// LoadOrCreateKeyFile reads the key at path, creating the file (mode 0600,
// and its directory 0700) with a random key if it does not exist. The file
// holds the 32 raw bytes; a file holding the key in base64 text is accepted
// too. A key file that its group or others may read is refused: anyone who
// can read it can read every local secret.
func LoadOrCreateKeyFile(path string) (*LocalKey, error) {
	if path == "" {
		return nil, roster.Errorf(roster.EINVALID, "local secret key file: no path given")
	}
	k, err := readKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create directory of local secret key file: %w", err)
	}
	k, err = GenerateLocalKey()
	if err != nil {
		return nil, err
	}
	err = writeNewKeyFile(path, k)
	if errors.Is(err, fs.ErrExist) {
		return readKeyFile(path) // another process created it first
	}
	if err != nil {
		return nil, err
	}
	return k, nil
}

// writeNewKeyFile writes k to path, which must not exist (fs.ErrExist),
// mode 0600.
func writeNewKeyFile(path string, k *LocalKey) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return err
	}
	if err != nil {
		return fmt.Errorf("create local secret key file: %w", err)
	}
	_, err = f.Write(k.b[:])
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("write local secret key file %s: %w", path, err)
	}
	return nil
}

func readKeyFile(path string) (*LocalKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, roster.Errorf(roster.EINVALID, "local secret key file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, roster.Errorf(roster.EINVALID,
			"local secret key file %s is readable or writable by its group or others (mode %04o): run `chmod 600 %s`", path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read local secret key file: %w", err)
	}
	defer clear(b)
	if len(b) == LocalKeySize {
		var k LocalKey
		copy(k.b[:], b)
		return &k, nil
	}
	k, err := KeyFromBase64(roster.Secret(b))
	if err != nil {
		return nil, roster.Errorf(roster.EINVALID, "local secret key file %s holds neither %d raw bytes nor their base64", path, LocalKeySize)
	}
	return k, nil
}

// Encode returns the key in base64, e.g. to hand it to another node.
func (k *LocalKey) Encode() roster.Secret {
	return roster.Secret(base64.StdEncoding.EncodeToString(k.b[:]))
}

// ID is a short fingerprint of the key (not secret): it tells which key
// sealed a blob, so a wrong key is reported as such.
func (k *LocalKey) ID() string { return hex.EncodeToString(k.id()) }

func (k *LocalKey) id() []byte {
	m := hmac.New(sha256.New, k.b[:])
	m.Write([]byte("roster local secret key id v1"))
	return m.Sum(nil)[:keyIDLen]
}

// String implements fmt.Stringer.
func (k *LocalKey) String() string { return "[redacted]" }

// GoString implements fmt.GoStringer.
func (k *LocalKey) GoString() string { return "[redacted]" }

// Format implements fmt.Formatter, so no verb (%x, %v, %+v) reaches the bytes.
func (k *LocalKey) Format(f fmt.State, _ rune) { io.WriteString(f, "[redacted]") }

// LogValue implements slog.LogValuer.
func (k *LocalKey) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// MarshalJSON implements json.Marshaler.
func (k *LocalKey) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

// Sealed blob layout: version byte, key id, nonce, AES-256-GCM ciphertext
// (with tag) of the JSON-encoded fields. The additional authenticated data
// binds the blob to its path.
const (
	blobVersion = 1
	keyIDLen    = 8
)

var blobMagic = []byte{'R', 'S', blobVersion}

// sealer seals and opens secret fields with one key.
type sealer struct {
	aead  cipher.AEAD
	keyID []byte
}

func newSealer(k *LocalKey) (*sealer, error) {
	block, err := aes.NewCipher(k.b[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead, keyID: k.id()}, nil
}

func additionalData(path string) []byte {
	return append([]byte("roster local secret v1\x00"), path...)
}

func (s *sealer) seal(path string, fields map[string]string) ([]byte, error) {
	plain, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(blobMagic)+keyIDLen+len(nonce)+len(plain)+s.aead.Overhead())
	out = append(out, blobMagic...)
	out = append(out, s.keyID...)
	out = append(out, nonce...)
	return s.aead.Seal(out, nonce, plain, additionalData(path)), nil
}

// errWrongKey and errTampered are what open reports; callers turn them into
// roster errors naming the path.
var (
	errWrongKey = errors.New("sealed with another key")
	errTampered = errors.New("failed authentication")
)

func (s *sealer) open(path string, blob []byte) (map[string]string, error) {
	n := s.aead.NonceSize()
	head := len(blobMagic) + keyIDLen
	if len(blob) < head+n+s.aead.Overhead() || !bytes.Equal(blob[:len(blobMagic)], blobMagic) {
		return nil, errTampered
	}
	if !hmac.Equal(blob[len(blobMagic):head], s.keyID) {
		return nil, errWrongKey
	}
	nonce := blob[head : head+n]
	plain, err := s.aead.Open(nil, nonce, blob[head+n:], additionalData(path))
	if err != nil {
		return nil, errTampered
	}
	defer clear(plain)
	var fields map[string]string
	if err := json.Unmarshal(plain, &fields); err != nil {
		return nil, errTampered
	}
	return fields, nil
}

// blobKeyID returns the key id recorded in a blob, for messages.
func blobKeyID(blob []byte) string {
	head := len(blobMagic) + keyIDLen
	if len(blob) < head {
		return "?"
	}
	return hex.EncodeToString(blob[len(blobMagic):head])
}
