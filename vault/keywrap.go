package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"golang.org/x/crypto/argon2"

	"github.com/rosterhq/roster"
)

// MinPassphraseBytes is the shortest passphrase a wrapped key accepts.
const MinPassphraseBytes = 16

// wrappedKey is a local key sealed under a passphrase (WrapKey): what a
// backup carries when asked to carry its key.
type wrappedKey struct {
	Format string `json:"format"` // "argon2id+aes-256-gcm v1"
	// Argon2id parameters (RFC 9106's second recommended option, as the
	// password hashes use; KiB of memory).
	Time    uint32 `json:"time"`
	Memory  uint32 `json:"memory_kib"`
	Threads uint8  `json:"threads"`
	Salt    []byte `json:"salt"`
	Nonce   []byte `json:"nonce"`
	Sealed  []byte `json:"sealed"`
	KeyID   string `json:"key_id"` // public: which key this is
}

const wrapFormat = "argon2id+aes-256-gcm v1"

// Bounds on a wrapped key's parameters, so that a crafted file cannot
// make unwrapping take the machine's memory or hours.
const (
	maxWrapMemoryKiB = 1 << 20
	maxWrapTime      = 16
)

// WrapKey seals k under passphrase: AES-256-GCM with a key derived by
// Argon2id from the passphrase and a random salt.
func WrapKey(k *LocalKey, passphrase roster.Secret) ([]byte, error) {
	if len(passphrase.Reveal()) < MinPassphraseBytes {
		return nil, roster.Errorf(roster.EINVALID, "the passphrase is shorter than %d bytes", MinPassphraseBytes)
	}
	w := wrappedKey{Format: wrapFormat, Time: 3, Memory: 64 * 1024, Threads: 4, Salt: make([]byte, 16), KeyID: k.ID()}
	if _, err := rand.Read(w.Salt); err != nil {
		return nil, err
	}
	aead, err := w.aead(passphrase)
	if err != nil {
		return nil, err
	}
	w.Nonce = make([]byte, aead.NonceSize())
	if _, err := rand.Read(w.Nonce); err != nil {
		return nil, err
	}
	w.Sealed = aead.Seal(nil, w.Nonce, k.b[:], []byte(wrapFormat))
	return json.Marshal(w)
}

// UnwrapKey opens a key sealed by WrapKey. A wrong passphrase and a
// damaged file are told apart only as far as GCM can: either fails.
func UnwrapKey(data []byte, passphrase roster.Secret) (*LocalKey, error) {
	var w wrappedKey
	if err := json.Unmarshal(data, &w); err != nil || w.Format != wrapFormat {
		return nil, roster.Errorf(roster.EINVALID, "the wrapped key is not in the %s format", wrapFormat)
	}
	if w.Memory == 0 || w.Memory > maxWrapMemoryKiB || w.Time == 0 || w.Time > maxWrapTime || w.Threads == 0 {
		return nil, roster.Errorf(roster.EINVALID, "the wrapped key's Argon2id parameters are out of bounds")
	}
	aead, err := w.aead(passphrase)
	if err != nil {
		return nil, err
	}
	if len(w.Nonce) != aead.NonceSize() {
		return nil, roster.Errorf(roster.EINVALID, "the wrapped key is damaged")
	}
	plain, err := aead.Open(nil, w.Nonce, w.Sealed, []byte(wrapFormat))
	if err != nil || len(plain) != LocalKeySize {
		return nil, roster.Errorf(roster.EINVALID, "the passphrase does not open the wrapped key (wrong passphrase, or a damaged file)")
	}
	var k LocalKey
	copy(k.b[:], plain)
	clear(plain)
	return &k, nil
}

func (w *wrappedKey) aead(passphrase roster.Secret) (cipher.AEAD, error) {
	kek := argon2.IDKey([]byte(passphrase.Reveal()), w.Salt, w.Time, w.Memory, w.Threads, LocalKeySize)
	defer clear(kek)
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// SealedKeyID is the id of the key that sealed a blob, read from its
// first bytes (its format bytes and key id); "" if they are not a
// sealed blob's.
func SealedKeyID(head []byte) string {
	n := len(blobMagic) + keyIDLen
	if len(head) < n || string(head[:len(blobMagic)]) != string(blobMagic) {
		return ""
	}
	return hex.EncodeToString(head[len(blobMagic):n])
}

// ReadKeyFile reads a key file (as LoadOrCreateKeyFile does, with its
// checks) and never creates one.
func ReadKeyFile(path string) (*LocalKey, error) {
	k, err := readKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("local secret key file: %w", err)
	}
	return k, nil
}

// WriteKeyFile writes k to a new file at path, mode 0600; it fails if the
// file exists.
func WriteKeyFile(path string, k *LocalKey) error {
	return writeNewKeyFile(path, k)
}
