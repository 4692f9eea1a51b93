package gcpsim_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster/sources/gcp/gcpsim"
)

// TestTokenEndpointTakesPaddedSignatures: google-auth 1.x (the Python
// library the gcp_compute plugin signs with) pads the JWT's signature
// segment with '='; Google's endpoint takes it, so the simulator must.
func TestTokenEndpointTakesPaddedSignatures(t *testing.T) {
	srv, base := start(t, gcpsim.Options{Seed: 4, Size: 10})
	var key struct {
		ClientEmail string `json:"client_email"`
		PrivateKey  string `json:"private_key"`
		KeyID       string `json:"private_key_id"`
	}
	if err := json.Unmarshal(srv.KeyFile(base), &key); err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(key.PrivateKey))
	if block == nil {
		t.Fatal("the key file's private key is not PEM")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	seg := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	now := time.Now().Unix()
	signed := seg(map[string]any{"alg": "RS256", "typ": "JWT", "kid": key.KeyID}) + "." +
		seg(map[string]any{"iss": key.ClientEmail, "scope": scopeCompute, "aud": base + gcpsim.TokenPath, "iat": now, "exp": now + 3600})
	digest := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, parsed.(*rsa.PrivateKey), crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	padded := base64.URLEncoding.EncodeToString(sig)
	if !strings.HasSuffix(padded, "=") {
		t.Fatalf("a 2048-bit signature encodes without padding (%d bytes): the case proves nothing", len(sig))
	}
	for _, enc := range []string{padded, base64.RawURLEncoding.EncodeToString(sig)} {
		resp, err := http.PostForm(base+gcpsim.TokenPath, url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {signed + "." + enc}})
		if err != nil {
			t.Fatal(err)
		}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		json.NewDecoder(resp.Body).Decode(&tok)
		resp.Body.Close()
		if resp.StatusCode != 200 || tok.AccessToken == "" {
			t.Fatalf("signature %q…: status %d, token %q", enc[len(enc)-4:], resp.StatusCode, tok.AccessToken)
		}
	}
}
