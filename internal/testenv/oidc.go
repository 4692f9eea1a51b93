package testenv

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/pkitest"
	"github.com/rosterhq/roster/internal/testenv/oidcconfig"
)

// OIDCBinEnv names the environment variable that points at a prebuilt OIDC test
// provider (internal/testenv/oidcprovider). Without it the provider is built from
// this tree with `go build`, once per test binary.
const OIDCBinEnv = "ROSTER_OIDC_BIN"

const oidcProviderPackage = "github.com/rosterhq/roster/internal/testenv/oidcprovider"

const oidcStartTimeout = 20 * time.Second

// OIDCUser is a user of the test provider. Its subject (sub) is its Username.
type OIDCUser = oidcconfig.User

// OIDCConfig is what OIDC starts a provider with.
type OIDCConfig struct {
	Users []OIDCUser
	// RedirectURIs of the confidential client. They must be exact: the provider
	// compares them as strings.
	RedirectURIs []string
	// ClaimsInUserinfoOnly keeps profile and email claims out of the ID token, as
	// some providers do; the client then reads them from the userinfo endpoint.
	// (groups and sub are always in the ID token.)
	ClaimsInUserinfoOnly bool
	// TLS serves the provider over HTTPS with a certificate for 127.0.0.1 from a
	// CA of the test's own (OIDCProvider.CAFile); otherwise it serves plain HTTP.
	TLS bool
}

// OIDCProvider is a running OpenID Connect provider: zitadel/oidc's example
// provider wrapped by internal/testenv/oidcprovider, with the test's users, a
// confidential client for the authorization code flow (PKCE S256 supported) and
// a client for the device authorization grant.
type OIDCProvider struct {
	Issuer string // e.g. "http://127.0.0.1:39123/"; discovery at Issuer + ".well-known/openid-configuration"

	ClientID     string // confidential client (client_secret_basic), code flow, RedirectURIs
	ClientSecret string

	DeviceClientID     string // the device authorization grant (RFC 8628)
	DeviceClientSecret string

	CAFile string // the CA that signed the provider's certificate (TLS only)

	Bin string

	users []OIDCUser
	proc  *process
	hc    *http.Client // trusts CAFile
}

// OIDC starts an OpenID Connect provider for the calling test and stops it when
// the test ends. It Needs the provider binary (see OIDCProviderBinary).
func OIDC(t testing.TB, cfg OIDCConfig) *OIDCProvider {
	t.Helper()
	dir := t.TempDir()
	var tlsPair *pkitest.Pair
	var caFile string
	if cfg.TLS {
		ca := pkitest.NewCA(t, dir, "oidc-test")
		pair := ca.Server(t, dir, "oidc-provider", "127.0.0.1")
		tlsPair, caFile = &pair, ca.File
	}
	p, err := startOIDC(dir, cfg, tlsPair, caFile)
	own(t, "oidc provider", p, err)
	return p
}

func startOIDC(dir string, cfg OIDCConfig, tlsPair *pkitest.Pair, caFile string) (*OIDCProvider, error) {
	if len(cfg.RedirectURIs) == 0 {
		return nil, errors.New("OIDCConfig.RedirectURIs is empty: the code flow's client needs one")
	}
	bin, err := OIDCProviderBinary()
	if err != nil {
		return nil, err
	}
	p := &OIDCProvider{
		ClientID: "roster", ClientSecret: rand.Text(),
		DeviceClientID: "roster-device", DeviceClientSecret: rand.Text(),
		CAFile: caFile, Bin: bin, users: cfg.Users,
	}
	file := oidcconfig.File{Users: cfg.Users, Clients: []oidcconfig.Client{
		{ID: p.ClientID, Secret: p.ClientSecret, RedirectURIs: cfg.RedirectURIs, ClaimsInUserinfoOnly: cfg.ClaimsInUserinfoOnly},
		{ID: p.DeviceClientID, Secret: p.DeviceClientSecret, Device: true},
	}}
	if file.Users == nil {
		file.Users = []OIDCUser{}
	}
	b, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "oidc-provider.json")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		return nil, err
	}

	tr := http.DefaultTransport.(*http.Transport).Clone()
	scheme := "http"
	if tlsPair != nil {
		scheme = "https"
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	p.hc = &http.Client{Transport: tr, Timeout: 10 * time.Second}

	err = startOnFreePort(bin, false, 5*time.Second, func(attempt, port int) (*process, error) {
		addr := "127.0.0.1:" + strconv.Itoa(port)
		p.Issuer = scheme + "://" + addr + "/"
		args := []string{"-listen", addr, "-issuer", p.Issuer, "-config", cfgPath}
		if tlsPair != nil {
			args = append(args, "-tls-cert", tlsPair.Cert, "-tls-key", tlsPair.Key)
		}
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = childEnv(nil, "HOME="+dir)
		var err error
		p.proc, err = startProcess("oidc provider", cmd, filepath.Join(dir, fmt.Sprintf("oidc-provider-%d.log", attempt)),
			syscall.SIGTERM, syscall.SIGKILL)
		return p.proc, err
	}, func() error { return p.proc.poll(oidcStartTimeout, 50*time.Millisecond, p.discovered) })
	if err != nil {
		return nil, err
	}
	return p, nil
}

// discovered reads the discovery document: the provider is ready when it
// names the issuer.
func (p *OIDCProvider) discovered() error {
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if err := p.getJSON(".well-known/openid-configuration", &doc); err != nil {
		return err
	}
	if doc.Issuer != p.Issuer {
		return fmt.Errorf("discovery names issuer %q, want %q", doc.Issuer, p.Issuer)
	}
	return nil
}

func (p *OIDCProvider) getJSON(path string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.Issuer+path, nil)
	if err != nil {
		return err
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %d: %.200s", path, resp.StatusCode, body)
	}
	return json.Unmarshal(body, v)
}

// HTTPClient returns a client that trusts the provider's CA (when TLS) and keeps
// cookies in a jar of its own, like a browser; redirects are followed unless
// checkRedirect (as http.Client.CheckRedirect) says otherwise.
func (p *OIDCProvider) HTTPClient(checkRedirect func(*http.Request, []*http.Request) error) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		panic(err) // cookiejar.New never fails with nil options
	}
	return &http.Client{Transport: p.hc.Transport, Jar: jar, CheckRedirect: checkRedirect, Timeout: 30 * time.Second}
}

// Stop stops the provider (idempotent). OIDC(t) calls it at cleanup.
func (p *OIDCProvider) Stop() { p.proc.stop(5 * time.Second) }

func (p *OIDCProvider) process() *process { return p.proc }

// Logs returns the provider's recent output.
func (p *OIDCProvider) Logs() string { return p.proc.logs(64 << 10) }

// ErrOIDCSignInRefused is returned by SignIn and ApproveDevice when the provider
// answers its login form with the form again (wrong username or password).
var ErrOIDCSignInRefused = errors.New("the provider refused the username or password")

var loginFormID = regexp.MustCompile(`name="id" value="([^"]*)"`)

// SignIn plays the browser's part of the authorization code flow: it GETs
// authURL (an authorization request to this provider, or a page of the client
// that redirects to one) with hc, which must keep cookies and follow redirects
// (HTTPClient does), expects to land on the provider's login form, and posts it
// with username and password the way the form's submit button does. It returns
// the response at the end of the redirects that follow: normally the client's
// redirect URI, with code and state. A refused password gives
// ErrOIDCSignInRefused.
func (p *OIDCProvider) SignIn(ctx context.Context, hc *http.Client, authURL, username, password string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	page, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	at := resp.Request.URL
	m := loginFormID.FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || !p.owns(at) || at.Path != "/login/username" || m == nil {
		return nil, fmt.Errorf("GET %s ended at %s (%d), not at the provider's login form: %.300s", authURL, at, resp.StatusCode, page)
	}
	form := url.Values{"id": {html.UnescapeString(string(m[1]))}, "username": {username}, "password": {password}}
	resp, err = p.postForm(ctx, hc, p.Issuer+"login/username", form)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK && p.owns(resp.Request.URL) && resp.Request.URL.Path == "/login/username" {
		resp.Body.Close()
		return nil, ErrOIDCSignInRefused
	}
	return resp, nil
}

// ApproveDevice plays the user's part of the device authorization grant on the
// provider's pages: it signs in as username with userCode and allows (or denies)
// the device. It uses a browser of its own.
func (p *OIDCProvider) ApproveDevice(ctx context.Context, userCode, username, password string, allow bool) error {
	hc := p.HTTPClient(nil)
	resp, err := p.postForm(ctx, hc, p.Issuer+"device/login",
		url.Values{"user_code": {userCode}, "username": {username}, "password": {password}})
	if err != nil {
		return err
	}
	page, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.Request.URL.Path != "/device/login" || resp.StatusCode != http.StatusOK {
		// Refusals redirect back to the user code page with the reason, escaped twice.
		prompt, _ := url.QueryUnescape(resp.Request.URL.Query().Get("prompt"))
		if prompt == "username or password wrong" {
			return ErrOIDCSignInRefused
		}
		return fmt.Errorf("device login ended at %s (%d) saying %q: %.300s", resp.Request.URL, resp.StatusCode, prompt, page)
	}
	action := "denied"
	if allow {
		action = "allowed"
	}
	resp, err = p.postForm(ctx, hc, p.Issuer+"device/confirm", url.Values{"action": {action}})
	if err != nil {
		return err
	}
	page, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Device authorization "+action) {
		return fmt.Errorf("device confirm ended at %s (%d): %.300s", resp.Request.URL, resp.StatusCode, page)
	}
	return nil
}

func (p *OIDCProvider) postForm(ctx context.Context, hc *http.Client, target string, form url.Values) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return hc.Do(req)
}

// owns reports whether u is on the provider.
func (p *OIDCProvider) owns(u *url.URL) bool {
	iss, err := url.Parse(p.Issuer)
	return err == nil && u.Scheme == iss.Scheme && u.Host == iss.Host
}

// OIDCProviderBinary returns the OIDC test provider: $ROSTER_OIDC_BIN, else a
// binary built from this tree's internal/testenv/oidcprovider with `go build`
// (once per test binary) into ${XDG_CACHE_HOME:-$HOME/.cache}/roster/oidcprovider/.
// The build does not touch the network (GOPROXY=off): the modules it needs are
// downloaded by scripts/install-test-deps.sh, or by any `go mod download`. A
// missing go command or missing modules make the provider unavailable (Need);
// a build that fails otherwise is an error.
func OIDCProviderBinary() (string, error) {
	if p := os.Getenv(OIDCBinEnv); p != "" {
		if !isExecutable(p) {
			return "", unavailable(oidcWhat, "%s=%s is not an executable file", OIDCBinEnv, p)
		}
		return p, nil
	}
	oidcBuild.once.Do(func() { oidcBuild.path, oidcBuild.err = buildOIDCProvider() })
	return oidcBuild.path, oidcBuild.err
}

var oidcBuild struct {
	once sync.Once
	path string
	err  error
}

const oidcWhat = "OIDC test provider (internal/testenv/oidcprovider, built with go build)"

func buildOIDCProvider() (string, error) {
	return buildTool(oidcWhat, "oidcprovider", ".", oidcProviderPackage, OIDCBinEnv)
}

// buildTool builds package pkg of the module in dir (relative to this
// checkout's root) offline (GOPROXY=off, -mod=readonly: the modules must be
// in the cache; scripts/install-test-deps.sh puts them there) into the user
// cache as name, and returns the binary's path. envVar names the variable
// that points at a prebuilt one instead.
func buildTool(what, name, dir, pkg, envVar string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		if !isExecutable(goBin) {
			return "", unavailable(what, "no go command on PATH to build it with; or set %s", envVar)
		}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", unavailable(what, "no cache directory to build it into: %v", err)
	}
	// One binary per checkout: worktrees sharing a cache do not overwrite each
	// other's, and a rebuild replaces it atomically (a running copy is unaffected).
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root := moduleRoot(wd)
	sum := sha256.Sum256([]byte(root))
	out := filepath.Join(cache, "roster", name, hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(out, name)
	tmp, err := os.CreateTemp(out, "."+name+"-*")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.Command(goBin, "build", "-trimpath", "-o", tmp.Name(), pkg)
	cmd.Dir = filepath.Join(root, dir)
	cmd.Env = childEnv([]string{"GOPROXY=", "GOFLAGS=", "CGO_ENABLED=", "GOOS=", "GOARCH=", "GOWORK="},
		"GOPROXY=off", "GOFLAGS=-mod=readonly -buildvcs=false", "CGO_ENABLED=0", "GOWORK=off")
	msg, err := cmd.CombinedOutput()
	if err != nil {
		if strings.Contains(string(msg), "GOPROXY=off") {
			return "", unavailable(what, "its modules are not downloaded (scripts/install-test-deps.sh downloads them): %s",
				strings.TrimSpace(string(msg)))
		}
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, msg)
	}
	if err := os.Chmod(tmp.Name(), 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), bin); err != nil {
		return "", err
	}
	return bin, nil
}

// moduleRoot returns the directory holding the go.mod above dir, or dir.
func moduleRoot(dir string) string {
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return dir
		}
		d = parent
	}
}
