// Command oidcprovider is the OpenID Connect provider Roster's tests sign in
// against: zitadel/oidc's example provider (its exampleop and storage packages,
// pinned by Roster's go.sum) with users, groups and clients read from a file, a
// `groups` claim, an issuer of the caller's choosing and a listener on loopback
// only. It is a test tool, never part of Roster: testenv.OIDC builds and starts it.
//
//	oidcprovider -listen 127.0.0.1:PORT -issuer http://127.0.0.1:PORT/ -config provider.json
//
// The configuration file:
//
//	{
//	  "users": [{"username": "alice", "password": "...", "email": "alice@example.test",
//	             "given_name": "Alice", "family_name": "Liddell", "groups": ["ops", "ops/db"]}],
//	  "clients": [{"id": "roster", "secret": "...", "redirect_uris": ["https://127.0.0.1:8443/cb"]},
//	              {"id": "roster-cli", "secret": "...", "device": true}]
//	}
//
// A user's subject (sub) is its username: the example's device confirmation
// records the username as the subject, so any other id breaks the device grant.
// A client is confidential (client_secret_basic) and allowed the authorization
// code grant, with PKCE S256 when the request carries a challenge, and refresh
// tokens; a "device" client has the device authorization grant (RFC 8628) only.
// The groups claim is issued, in the ID token and at the userinfo endpoint, when
// the scope `groups` is asked for. Profile and email claims are in the ID token
// too, as most providers do, unless the client says "claims_in_userinfo_only".
//
// The browser side is the example's: the authorization endpoint (/auth)
// redirects to a form at /login/username (fields id, username, password) whose
// POST redirects to the client's redirect URI with the code; the device grant's
// pages are /device (user_code), POST /device/login (user_code, username,
// password) and POST /device/confirm (action=allowed|denied).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/rosterhq/roster/internal/testenv/oidcconfig"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "oidcprovider:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("oidcprovider", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "`address` to listen on (loopback only)")
	issuer := fs.String("issuer", "", "issuer `URL` (default http://<listen address>/, or https:// with -tls-cert)")
	configPath := fs.String("config", "", "`file` with users and clients (JSON)")
	tlsCert := fs.String("tls-cert", "", "serve HTTPS with this certificate `file` (PEM)")
	tlsKey := fs.String("tls-key", "", "the certificate's key `file` (PEM)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *configPath == "" {
		return errors.New("-config is required")
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("-tls-cert and -tls-key go together")
	}
	cfg, err := readConfig(*configPath)
	if err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("-listen %q: %w", *listen, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-listen %q: a test provider listens on a loopback address only", *listen)
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	if *issuer == "" {
		scheme := "http"
		if *tlsCert != "" {
			scheme = "https"
		}
		*issuer = scheme + "://" + ln.Addr().String() + "/"
	}
	if u, err := url.Parse(*issuer); err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return fmt.Errorf("-issuer %q: want scheme://host:port/ without a path", *issuer)
	}

	logger := slog.New(slog.NewTextHandler(stderr, nil))
	handler := exampleop.SetupServer(*issuer, newStore(cfg), logger, false)
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() {
		if *tlsCert != "" {
			done <- srv.ServeTLS(ln, *tlsCert, *tlsKey)
		} else {
			done <- srv.Serve(ln)
		}
	}()
	fmt.Fprintf(stdout, "issuer %s listening on %s\n", *issuer, ln.Addr())

	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	// No graceful drain: a test is done with its provider when it stops it, and
	// HTTP/2's graceful shutdown would hold every stop for a second.
	if err := srv.Close(); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func readConfig(path string) (*oidcconfig.File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cfg oidcconfig.File
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	seen := map[string]bool{}
	for _, u := range cfg.Users {
		if u.Username == "" || u.Password == "" {
			return nil, fmt.Errorf("%s: a user needs a username and a password", path)
		}
		if seen[u.Username] {
			return nil, fmt.Errorf("%s: user %q twice", path, u.Username)
		}
		seen[u.Username] = true
	}
	for _, c := range cfg.Clients {
		if c.ID == "" || c.Secret == "" {
			return nil, fmt.Errorf("%s: a client needs an id and a secret", path)
		}
		if !c.Device && len(c.RedirectURIs) == 0 {
			return nil, fmt.Errorf("%s: client %q needs redirect_uris (or \"device\": true)", path, c.ID)
		}
	}
	return &cfg, nil
}

// store is the example's in-memory storage with the file's users and clients,
// and groups.
type store struct {
	*storage.Storage
	groups  map[string][]string // subject -> groups
	clients map[string]oidcconfig.Client
	scopes  *tokenScopes
}

// tokenScopes remembers the scopes each access token was granted: the example's
// storage keeps them but does not tell, and userinfo must answer groups only
// for a token granted the groups scope.
type tokenScopes struct {
	mu sync.Mutex
	m  map[string][]string // access token id -> scopes
}

func newStore(cfg *oidcconfig.File) store {
	users := users{}
	groups := map[string][]string{}
	for _, u := range cfg.Users {
		users[u.Username] = &storage.User{
			ID:                u.Username,
			Username:          u.Username,
			Password:          u.Password,
			FirstName:         u.GivenName,
			LastName:          u.FamilyName,
			Email:             u.Email,
			EmailVerified:     u.Email != "",
			PreferredLanguage: language.English,
		}
		groups[u.Username] = slices.Clone(u.Groups)
	}
	clients := map[string]*storage.Client{}
	byID := map[string]oidcconfig.Client{}
	for _, c := range cfg.Clients {
		if c.Device {
			clients[c.ID] = storage.DeviceClient(c.ID, c.Secret)
		} else {
			clients[c.ID] = storage.WebClient(c.ID, c.Secret, c.RedirectURIs...)
		}
		byID[c.ID] = c
	}
	return store{Storage: storage.NewStorageWithClients(users, clients), groups: groups, clients: byID,
		scopes: &tokenScopes{m: map[string][]string{}}}
}

// GetClientByClientID lets every client ask for the groups scope (zitadel drops
// scopes a client is not allowed) and chooses where profile claims go.
func (s store) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return groupsClient{Client: c, claimsInIDToken: !s.clients[id].ClaimsInUserinfoOnly}, nil
}

// SetUserinfoFromRequest fills the ID token's claims.
func (s store) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, tr op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, tr, scopes); err != nil {
		return err
	}
	s.addGroups(ui, tr.GetSubject(), scopes)
	return nil
}

// SetUserinfoFromToken fills the userinfo endpoint's answer.
func (s store) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	s.scopes.mu.Lock()
	scopes := s.scopes.m[tokenID]
	s.scopes.mu.Unlock()
	s.addGroups(ui, subject, scopes)
	return nil
}

// CreateAccessToken records the token's scopes for SetUserinfoFromToken.
func (s store) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	id, exp, err := s.Storage.CreateAccessToken(ctx, req)
	if err == nil {
		s.scopes.add(id, req.GetScopes())
	}
	return id, exp, err
}

// CreateAccessAndRefreshTokens records the token's scopes for SetUserinfoFromToken.
func (s store) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	id, refresh, exp, err := s.Storage.CreateAccessAndRefreshTokens(ctx, req, current)
	if err == nil {
		s.scopes.add(id, req.GetScopes())
	}
	return id, refresh, exp, err
}

func (t *tokenScopes) add(id string, scopes []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m[id] = slices.Clone(scopes)
}

func (s store) addGroups(ui *oidc.UserInfo, subject string, scopes []string) {
	if !slices.Contains(scopes, "groups") {
		return
	}
	g := s.groups[subject]
	if g == nil {
		g = []string{}
	}
	ui.AppendClaims("groups", g)
}

type groupsClient struct {
	op.Client
	claimsInIDToken bool
}

func (c groupsClient) IsScopeAllowed(scope string) bool {
	return scope == "groups" || c.Client.IsScopeAllowed(scope)
}

func (c groupsClient) IDTokenUserinfoClaimsAssertion() bool { return c.claimsInIDToken }

// users is the example's UserStore over the file's users, keyed by username.
type users map[string]*storage.User

func (u users) GetUserByID(id string) *storage.User             { return u[id] }
func (u users) GetUserByUsername(username string) *storage.User { return u[username] }
func (u users) ExampleClientID() string                         { return storage.ServiceUserID }
