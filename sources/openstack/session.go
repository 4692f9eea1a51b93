package openstack

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	gcopenstack "github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
)

// cloud is one cloud of a sync, with its authenticated sessions.
type cloud struct {
	cfg *cloudConfig

	httpOnce   sync.Once
	httpClient *http.Client
	httpErr    error

	mu       sync.Mutex
	sessions map[string]*session
}

// projectRef names the project a token is scoped to: by name (in the
// cloud's project domain), by id, or neither (the user's default project,
// or an application credential's).
type projectRef struct {
	name, id string
	label    string // what scope names call it; "" until known
}

func (r projectRef) key() string { return r.id + "\x00" + r.name }

// session is an authenticated gophercloud ProviderClient scoped to one
// project. It re-authenticates by itself when its token expires.
type session struct {
	once        sync.Once
	err         error
	pc          *gophercloud.ProviderClient
	catalog     *tokens.ServiceCatalog
	projectID   string
	projectName string
}

// session returns the cloud's session for a project, authenticating the
// first time. A failure is remembered for the rest of the sync, so that a
// bad password is not tried once per region.
func (c *cloud) session(ctx context.Context, p *provider, proj projectRef) (*session, error) {
	c.mu.Lock()
	s := c.sessions[proj.key()]
	if s == nil {
		s = &session{}
		c.sessions[proj.key()] = s
	}
	c.mu.Unlock()
	s.once.Do(func() { s.err = s.authenticate(ctx, p, c, proj) })
	return s, s.err
}

func (c *cloud) client(d Driver) (*http.Client, error) {
	c.httpOnce.Do(func() {
		if d.HTTPClient != nil {
			c.httpClient = d.HTTPClient
			return
		}
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 32
		if c.cfg.verify != nil && !*c.cfg.verify || c.cfg.cacert != "" {
			t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			if c.cfg.verify != nil && !*c.cfg.verify {
				t.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // the cloud's own "verify: false"
			}
			if c.cfg.cacert != "" {
				pem, err := os.ReadFile(c.cfg.cacert)
				if err != nil {
					c.httpErr = fmt.Errorf("cloud %q: read cacert: %w", c.cfg.name, err)
					return
				}
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pem) {
					c.httpErr = fmt.Errorf("cloud %q: cacert %s holds no PEM certificate", c.cfg.name, c.cfg.cacert)
					return
				}
				t.TLSClientConfig.RootCAs = pool
			}
		}
		c.httpClient = &http.Client{Transport: t, Timeout: 2 * time.Minute}
	})
	return c.httpClient, c.httpErr
}

func (c *cloudConfig) usesAppCredential() bool {
	return c.authType == "application_credential" || c.authType == "" && (c.auth.appCredID != "" || c.auth.appCredName != "")
}

func ifaceOf(c *cloudConfig) string {
	if c.iface == "" {
		return "public"
	}
	return c.iface
}

// authOptions builds gophercloud's options for the cloud, or says what is
// missing. The secret is read here and nowhere else.
func authOptions(c *cloudConfig, proj projectRef) (gophercloud.AuthOptions, error) {
	a := &c.auth
	ao := gophercloud.AuthOptions{IdentityEndpoint: a.authURL, AllowReauth: true}
	if a.unsupportedAuthType != "" {
		return ao, fmt.Errorf("cloud %q: auth_type %q is not supported (use password or application_credential)", c.name, a.unsupportedAuthType)
	}
	if a.authURL == "" {
		return ao, fmt.Errorf("cloud %q has no auth_url", c.name)
	}
	if msg := checkAuthURL(a.authURL); msg != "" {
		return ao, fmt.Errorf("cloud %q: auth_url %s", c.name, msg)
	}
	userDomainID, userDomainName := first(a.userDomainID, a.domainID), first(a.userDomainName, a.domainName)
	if a.userDomainID != "" || a.userDomainName != "" {
		userDomainID, userDomainName = a.userDomainID, a.userDomainName
	}
	if c.usesAppCredential() {
		if !a.hasAppCredSecret {
			return ao, fmt.Errorf("cloud %q: no application credential secret (give application_credential_secret in clouds.yaml or secure.yaml, OS_APPLICATION_CREDENTIAL_SECRET, or the credential store)", c.name)
		}
		ao.ApplicationCredentialSecret = a.appCredSecret.Reveal()
		switch {
		case a.appCredID != "":
			ao.ApplicationCredentialID = a.appCredID
		case a.appCredName != "":
			ao.ApplicationCredentialName = a.appCredName
			ao.UserID, ao.Username = a.userID, a.username
			if a.userID == "" {
				setUserDomain(&ao, userDomainID, userDomainName)
			}
		default:
			return ao, fmt.Errorf("cloud %q: an application credential needs application_credential_id, or application_credential_name and the user", c.name)
		}
		return ao, nil
	}
	if !a.hasPassword {
		return ao, fmt.Errorf("cloud %q: no password (give it in clouds.yaml or secure.yaml, OS_PASSWORD with the same OS_AUTH_URL, or the credential store)", c.name)
	}
	ao.Password = a.password.Reveal()
	switch {
	case a.userID != "":
		ao.UserID = a.userID
	case a.username != "":
		ao.Username = a.username
		setUserDomain(&ao, userDomainID, userDomainName)
		if ao.DomainName == "" && ao.DomainID == "" {
			return ao, fmt.Errorf("cloud %q: username needs user_domain_name or user_domain_id (or domain_name)", c.name)
		}
	default:
		return ao, fmt.Errorf("cloud %q: auth needs username or user_id", c.name)
	}
	projDomainID, projDomainName := a.projectDomainID, a.projectDomainName
	if projDomainID == "" && projDomainName == "" {
		projDomainID, projDomainName = first(a.domainID, userDomainID), first(a.domainName, userDomainName)
		if a.domainID != "" || a.domainName != "" {
			projDomainID, projDomainName = a.domainID, a.domainName
		}
	}
	switch {
	case proj.id != "":
		ao.Scope = &gophercloud.AuthScope{ProjectID: proj.id}
	case proj.name != "":
		ao.Scope = &gophercloud.AuthScope{ProjectName: proj.name, DomainName: projDomainName}
		if projDomainName == "" {
			ao.Scope.DomainID = projDomainID
		}
		if ao.Scope.DomainID == "" && ao.Scope.DomainName == "" {
			return ao, fmt.Errorf("cloud %q: project_name needs project_domain_name or project_domain_id (or domain_name)", c.name)
		}
	default:
		ao.Scope = &gophercloud.AuthScope{} // the user's default project
	}
	return ao, nil
}

// setUserDomain names the domain a user given by name is looked up in:
// by its name when it has one, else by its id (Keystone takes one).
func setUserDomain(ao *gophercloud.AuthOptions, id, name string) {
	if name != "" {
		ao.DomainName = name
	} else {
		ao.DomainID = id
	}
}

func first(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// authenticate logs in with Keystone v3 and keeps the token's project and
// catalog.
func (s *session) authenticate(ctx context.Context, p *provider, c *cloud, proj projectRef) error {
	ao, err := authOptions(c.cfg, proj)
	if err != nil {
		return err
	}
	hc, err := c.client(p.d)
	if err != nil {
		return err
	}
	pc, err := gcopenstack.NewClient(ao.IdentityEndpoint)
	if err != nil {
		return fmt.Errorf("cloud %q: auth_url: %w", c.cfg.name, err)
	}
	pc.HTTPClient = *hc
	pc.UserAgent.Prepend("roster")
	p.retry.install(pc)
	if err := gcopenstack.Authenticate(ctx, pc, ao); err != nil {
		return fmt.Errorf("authenticate to cloud %q%s: %w", c.cfg.name, projectNote(proj), explain(err))
	}
	res, ok := pc.GetAuthResult().(tokens.CreateResult)
	if !ok {
		return fmt.Errorf("authenticate to cloud %q: Keystone did not answer with a v3 token", c.cfg.name)
	}
	project, err := res.ExtractProject()
	if err != nil || project == nil {
		return fmt.Errorf("authenticate to cloud %q: the token is not scoped to a project", c.cfg.name)
	}
	catalog, err := res.ExtractServiceCatalog()
	if err != nil {
		return fmt.Errorf("authenticate to cloud %q: read the service catalog: %w", c.cfg.name, err)
	}
	s.pc, s.catalog, s.projectID, s.projectName = pc, catalog, project.ID, project.Name
	source := c.cfg.auth.passwordSource
	if c.cfg.usesAppCredential() {
		source = c.cfg.auth.appCredSecretSource
	}
	p.log.Debug("authenticated", "cloud", c.cfg.name, "project", project.Name, "secret_from", source)
	return nil
}

func projectNote(p projectRef) string {
	switch {
	case p.name != "":
		return " (project " + p.name + ")"
	case p.id != "":
		return " (project " + p.id + ")"
	}
	return ""
}

// computeRegions lists the regions the catalog has a compute endpoint in,
// for the interface.
func (s *session) computeRegions(iface string) []string {
	if iface == "" {
		iface = "public"
	}
	var out []string
	for _, e := range s.catalog.Entries {
		if e.Type != "compute" {
			continue
		}
		for _, ep := range e.Endpoints {
			if ep.Interface == iface {
				out = append(out, first(ep.RegionID, ep.Region))
			}
		}
	}
	return sortedUnique(out)
}

// retryPolicy retries what is worth retrying, with bounded, jittered
// exponential backoff that honours Retry-After up to MaxBackoff.
type retryPolicy struct {
	max     int
	base    time.Duration
	ceiling time.Duration
	log     *slog.Logger
}

func newRetryPolicy(d Driver, log *slog.Logger) *retryPolicy {
	r := &retryPolicy{max: d.MaxRetries, ceiling: d.MaxBackoff, log: log}
	if r.max <= 0 {
		r.max = defaultMaxRetries
	}
	if r.ceiling <= 0 {
		r.ceiling = defaultMaxBackoff
	}
	r.base = min(500*time.Millisecond, r.ceiling)
	return r
}

// install wires the policy into a ProviderClient: gophercloud calls
// RetryBackoffFunc for 429 (and 498) and RetryFunc for every other failed
// request.
func (r *retryPolicy) install(pc *gophercloud.ProviderClient) {
	pc.RetryFunc = r.retryFunc
	pc.RetryBackoffFunc = r.backoffFunc
	pc.MaxBackoffRetries = uint(r.max)
}

// retryable reports whether a failed request should be tried again.
func retryable(err error) bool {
	var ue gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &ue) {
		switch ue.Actual {
		case http.StatusRequestEntityTooLarge, http.StatusTooManyRequests, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var netErr net.Error
	var syntaxErr *json.SyntaxError
	return errors.As(err, &netErr) || errors.As(err, &syntaxErr) || errors.Is(err, io.ErrUnexpectedEOF)
}

func (r *retryPolicy) retryFunc(ctx context.Context, method, u string, _ *gophercloud.RequestOpts, err error, failCount uint) error {
	if int(failCount) > r.max || !retryable(err) {
		return err
	}
	var hdr http.Header
	var ue gophercloud.ErrUnexpectedResponseCode
	status := 0
	if errors.As(err, &ue) {
		hdr, status = ue.ResponseHeader, ue.Actual
	}
	return r.wait(ctx, method, u, status, hdr, failCount, err)
}

func (r *retryPolicy) backoffFunc(ctx context.Context, ue *gophercloud.ErrUnexpectedResponseCode, err error, failCount uint) error {
	if err == nil {
		err = *ue
	}
	if int(failCount) > r.max {
		return err
	}
	return r.wait(ctx, ue.Method, ue.URL, ue.Actual, ue.ResponseHeader, failCount, err)
}

// wait sleeps before retry n (counting from 1), or returns err when ctx
// ends first.
func (r *retryPolicy) wait(ctx context.Context, method, u string, status int, hdr http.Header, n uint, err error) error {
	d := r.delay(n, hdr)
	r.log.Debug("retrying OpenStack request", "method", method, "url", redactURL(u), "status", status, "attempt", n, "after", d)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return err
	}
}

func (r *retryPolicy) delay(n uint, hdr http.Header) time.Duration {
	d := r.base << min(n-1, 10)
	d = d/2 + rand.N(d/2+1)
	if ra := retryAfter(hdr); ra > d {
		d = ra
	}
	return min(d, r.ceiling)
}

// retryAfter reads a Retry-After header (seconds or an HTTP date).
func retryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, time.Until(t))
	}
	return 0
}

// redactURL keeps a URL's scheme, host and path: enough to say what
// failed, with no query values in logs and errors.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

// apiError is an OpenStack API error shortened to what an operator needs:
// the call, the status and the service's message.
type apiError struct {
	method, url string
	status      int
	msg         string
	err         error
}

func (e *apiError) Error() string {
	s := e.method + " " + e.url + ": " + strconv.Itoa(e.status) + " " + http.StatusText(e.status)
	if e.msg != "" {
		s += ": " + e.msg
	}
	return s
}

func (e *apiError) Unwrap() error { return e.err }

// explain turns gophercloud's errors (which quote whole response bodies)
// into apiErrors.
func explain(err error) error {
	var reauth gophercloud.ErrUnableToReauthenticate
	if errors.As(err, &reauth) {
		return fmt.Errorf("the token was refused and authenticating again failed: %w", explain(reauth.ErrReauth))
	}
	var ue gophercloud.ErrUnexpectedResponseCode
	if !errors.As(err, &ue) {
		return err
	}
	return &apiError{method: ue.Method, url: redactURL(ue.URL), status: ue.Actual, msg: errorMessage(ue.Body), err: err}
}

// errorMessage finds the message of an OpenStack error body:
// {"<fault>": {"message": ...}} (Nova, Keystone) or {"message": ...}
// (Glance).
func errorMessage(body []byte) string {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return ""
	}
	var msg string
	if raw, ok := top["message"]; ok && json.Unmarshal(raw, &msg) == nil {
		return clip(msg)
	}
	for _, k := range slices.Sorted(mapKeys(top)) {
		var inner struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(top[k], &inner) == nil && inner.Message != "" {
			return clip(inner.Message)
		}
	}
	return ""
}

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
