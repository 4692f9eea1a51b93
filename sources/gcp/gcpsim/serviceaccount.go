package gcpsim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"sync"
)

// ServiceAccount is a Google service account the token endpoint accepts:
// its e-mail and the RSA key pair whose private half signs the JWT
// assertions. The key is generated at run time and never written anywhere
// but the key file JSON a caller asks for.
type ServiceAccount struct {
	Email    string
	ClientID string
	KeyID    string
	key      *rsa.PrivateKey
}

// NewServiceAccount generates a service account with a fresh 2048-bit key
// (about a tenth of a second). email is NAME@PROJECT.iam.gserviceaccount.com.
func NewServiceAccount(email string) (*ServiceAccount, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("gcpsim: generate service account key: %w", err)
	}
	var id [20]byte
	rand.Read(id[:])
	var cid [8]byte
	rand.Read(cid[:])
	n := uint64(0)
	for _, b := range cid {
		n = n<<8 | uint64(b)
	}
	return &ServiceAccount{
		Email:    email,
		ClientID: fmt.Sprintf("1%020d", n),
		KeyID:    hex.EncodeToString(id[:]),
		key:      key,
	}, nil
}

var (
	defaultAccountOnce sync.Once
	defaultAccount     *ServiceAccount
	defaultAccountErr  error
)

// DefaultServiceAccountEmail is the e-mail of the service account a Server
// accepts when Options.ServiceAccounts is empty.
const DefaultServiceAccountEmail = "roster-inventory@roster-sim.iam.gserviceaccount.com"

// DefaultServiceAccount returns the process's shared default service
// account, generating its key on first use, so that many simulators in one
// test binary pay for one key.
func DefaultServiceAccount() (*ServiceAccount, error) {
	defaultAccountOnce.Do(func() {
		defaultAccount, defaultAccountErr = NewServiceAccount(DefaultServiceAccountEmail)
	})
	return defaultAccount, defaultAccountErr
}

// project is the project the account "belongs to" in its key file.
func (sa *ServiceAccount) project() string {
	_, domain, ok := strings.Cut(sa.Email, "@")
	if !ok {
		return ""
	}
	p, _, _ := strings.Cut(domain, ".")
	return p
}

// KeyFile returns the service account's key file in the format the Google
// Cloud console downloads, with token_uri set to tokenURL (a simulator's
// TokenURL). It holds the private key: keep it out of logs and test
// output.
func (sa *ServiceAccount) KeyFile(tokenURL string) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(sa.key)
	if err != nil {
		panic(err) // cannot fail for an RSA key
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	f := map[string]string{
		"type":                        "service_account",
		"project_id":                  sa.project(),
		"private_key_id":              sa.KeyID,
		"private_key":                 string(pemKey),
		"client_email":                sa.Email,
		"client_id":                   sa.ClientID,
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   tokenURL,
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"client_x509_cert_url":        "https://www.googleapis.com/robot/v1/metadata/x509/" + strings.ReplaceAll(sa.Email, "@", "%40"),
		"universe_domain":             "googleapis.com",
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

// String never prints the key.
func (sa *ServiceAccount) String() string { return "service account " + sa.Email }

// GoString never prints the key.
func (sa *ServiceAccount) GoString() string { return sa.String() }
