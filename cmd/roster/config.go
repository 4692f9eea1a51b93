package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/internal/syncer"
	"github.com/rosterhq/roster/sources/construct"
)

// Config is Roster's process configuration. Each setting comes from, in
// order of precedence: a command-line flag, a ROSTER_* environment
// variable, the YAML config file, the default.
type Config struct {
	// Listen is the API's address. One that is not loopback needs TLS,
	// or InsecureListen.
	Listen string `yaml:"listen"`
	// TLSCert and TLSKey are PEM files of the server's certificate (its
	// chain) and key: set, the API is served over HTTPS, the pair re-read
	// on SIGHUP.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// TLSClientCA is a PEM file of the CAs that sign client certificates:
	// set, every /api/ request needs a client certificate they signed
	// (health checks and metrics do not).
	TLSClientCA string `yaml:"tls_client_ca"`
	// InsecureListen allows plain HTTP on an address that is not loopback.
	InsecureListen bool `yaml:"insecure_listen"`
	// DataDir holds the SQLite database and local state.
	DataDir string `yaml:"data_dir"`
	// Database is a SQLite file path (empty: DataDir/roster.db) or a
	// postgres:// URL; several processes may serve one PostgreSQL database.
	Database string `yaml:"database"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// LogFormat is json or text.
	LogFormat string `yaml:"log_format"`
	// SyncConcurrency bounds the syncs one process runs at once.
	SyncConcurrency int `yaml:"sync_concurrency"`
	// SyncTimeout is the run timeout of sources that set none.
	SyncTimeout Duration `yaml:"sync_timeout"`
	// SyncTimeoutMax caps every source's timeout. A sync job whose process
	// died is given to another once no run can still be going (README:
	// "Several nodes"). Every node, and `roster sync`, must have the same.
	SyncTimeoutMax Duration `yaml:"sync_timeout_max"`
	// SyncAttempts is how many times a failing sync is tried (with backoff).
	SyncAttempts int `yaml:"sync_attempts"`
	// SyncLease is how long a sync stays held by a process that stopped
	// renewing it (it died) before any process may fail it.
	SyncLease Duration `yaml:"sync_lease"`
	// ScheduleEvery is how often the cluster's leader looks for scheduled
	// syncs that are due: the precision of schedules.
	ScheduleEvery Duration `yaml:"schedule_every"`
	// MaxBodyBytes bounds API request bodies.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// TokenMaxTTL bounds the lifetime of new API tokens; tokens made
	// without a TTL get it. 0: no bound, and tokens without a TTL never
	// expire.
	TokenMaxTTL Duration `yaml:"token_max_ttl"`
	// SessionIdleTimeout ends a sign-in session unused this long;
	// SessionMaxAge ends any session this long after sign-in.
	SessionIdleTimeout Duration `yaml:"session_idle_timeout"`
	SessionMaxAge      Duration `yaml:"session_max_age"`
	// ExpressionValueBytes, ExpressionHostBytes and ExpressionSyncBytes
	// bound what compose, groups and keyed_groups expressions build: each
	// value, each host's constructed output, each sync's (README:
	// "Expression limits").
	ExpressionValueBytes int64 `yaml:"expression_value_bytes"`
	ExpressionHostBytes  int64 `yaml:"expression_host_bytes"`
	ExpressionSyncBytes  int64 `yaml:"expression_sync_bytes"`
	// AdmitDocuments, AdmitRequests and AdmitWait are the API's admission
	// control (api.Admission); DocumentDir is where rendered documents
	// are kept (api.Config.DocumentDir).
	AdmitDocuments int      `yaml:"admit_documents"`
	AdmitRequests  int      `yaml:"admit_requests"`
	AdmitWait      Duration `yaml:"admit_wait"`
	DocumentDir    string   `yaml:"document_dir"`

	// AuditRetention is how long the audit log keeps what was allowed
	// (issuances, signatures, changes); AuditFailureRetention how long it
	// keeps refusals and failures, no longer. 0 keeps forever.
	// AuditFailuresPerCaller bounds the distinct refusal and failure
	// records one caller writes per hour (roster.AuditLimits).
	AuditRetention         Duration `yaml:"audit_retention"`
	AuditFailureRetention  Duration `yaml:"audit_failure_retention"`
	AuditFailuresPerCaller int      `yaml:"audit_failures_per_caller"`

	// ChangeRetention is how long the per-host change history of syncs
	// is kept; 0 keeps it forever.
	ChangeRetention Duration `yaml:"change_retention"`

	// ShutdownTimeout is how long a stopping `roster serve` (SIGTERM)
	// waits for its running syncs before it stops them (failed, retried
	// later), and then for the HTTP requests in flight.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`

	// SecretBackend is "local" (sealed in the database; the default) or
	// "vault" (the production choice).
	SecretBackend string `yaml:"secret_backend"`
	// SecretKeyFile holds the local backend's AES-256 key (created 0600 on
	// first start; default <data-dir>/secret.key). ROSTER_SECRET_KEY
	// (base64) wins over it.
	SecretKeyFile string `yaml:"secret_key_file"`

	VaultAddr         string `yaml:"vault_addr"`
	VaultNamespace    string `yaml:"vault_namespace"`
	VaultCACert       string `yaml:"vault_ca_cert"`
	VaultClientCert   string `yaml:"vault_client_cert"`
	VaultClientKey    string `yaml:"vault_client_key"`
	VaultTokenFile    string `yaml:"vault_token_file"`
	VaultAppRoleMount string `yaml:"vault_approle_mount"`
	VaultRoleIDFile   string `yaml:"vault_role_id_file"`
	VaultSecretIDFile string `yaml:"vault_secret_id_file"`
	VaultKVMount      string `yaml:"vault_kv_mount"`
	VaultKVPrefix     string `yaml:"vault_kv_prefix"`
	VaultSSHMount     string `yaml:"vault_ssh_mount"`

	// PublicURL is Roster's URL as browsers reach it (behind a proxy,
	// the proxy's): OpenID Connect providers send browsers back to it.
	PublicURL string `yaml:"public_url"`
	// TrustedProxies lists the proxies (addresses or CIDR prefixes,
	// comma-separated) whose X-Forwarded-For names the client.
	TrustedProxies string `yaml:"trusted_proxies"`
	// LDAP and OIDC are the directories and identity providers users
	// sign in with (config file only; README "Signing in").
	LDAP []ldapSetting `yaml:"ldap"`
	OIDC []oidcSetting `yaml:"oidc"`
}

// setting binds one Config field to its flag, environment variable and
// file key; the table keeps the three names of a setting together.
type setting struct {
	flag, env, usage string
	ptr              any // *string, *int, *int64, *bool or *Duration into a Config
}

// libpqKeyValue matches a libpq key=value connection string.
var libpqKeyValue = regexp.MustCompile(`(?i)(^|\s)(host|hostaddr|port|dbname|user|password|passfile|sslmode|sslpassword|sslkey|sslcert|sslrootcert|service|options|connect_timeout|application_name|target_session_attrs)\s*=`)

// urlScheme matches the scheme of a URL (two letters at least: C: is a
// Windows drive).
var urlScheme = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]+):`)

// normalizeDatabase checks the database setting: a PostgreSQL URL gets
// its scheme in lower case (the driver knows no other). What would be
// shown with its password is refused without echoing it: a libpq
// key=value string or a mistyped URL, which would be taken for a file
// name (and shown, and created, as one), and a URL whose password holds
// a character it must percent-encode, which the driver would read
// differently (part of the password as the host, and show it).
func normalizeDatabase(database string) (string, error) {
	if isPostgres(database) {
		i := strings.Index(database, "://")
		database = strings.ToLower(database[:i]) + database[i:]
		return database, checkPostgresURL(database)
	}
	if libpqKeyValue.MatchString(database) {
		return "", errors.New("database: give PostgreSQL as a postgres:// URL (the password in PGPASSWORD or ~/.pgpass), or SQLite as a file path")
	}
	if m := urlScheme.FindStringSubmatch(database); m != nil {
		return "", fmt.Errorf("database: a %s: URL is neither a SQLite file path nor a postgres:// URL (a file name with a colon: write it ./NAME)", m[1])
	}
	return database, nil
}

// Audit retention by default: a year of issuances and changes (PCI DSS
// 10.5.1 asks for a year of audit history, and a year covers the life of
// most credentials an investigation would ask about), 90 days of refusals
// and failures (the part of that history PCI DSS wants at hand; refusals
// are what a flood is made of, and old ones explain little).
const (
	defaultAuditRetention        = 365 * 24 * time.Hour
	defaultAuditFailureRetention = 90 * 24 * time.Hour
	minAuditRetention            = 24 * time.Hour
	maxAuditFailuresPerCaller    = 10_000
)

// The per-host change history of syncs is kept 30 days by default: long
// enough to answer "what changed on this host this month", short enough
// that a fleet re-tagged daily does not grow the database without bound.
// Less than an hour would be a typo that empties it.
const (
	defaultChangeRetention = 30 * 24 * time.Hour
	minChangeRetention     = time.Hour
)

// auditRetention is the audit retention configured.
func (c *Config) auditRetention() roster.AuditRetention {
	return roster.AuditRetention{Allowed: time.Duration(c.AuditRetention), Failures: time.Duration(c.AuditFailureRetention)}
}

// auditLimits are the audit limits configured.
func (c *Config) auditLimits() roster.AuditLimits {
	return roster.AuditLimits{Window: roster.DefaultAuditWindow, PerCaller: c.AuditFailuresPerCaller}
}

// validateAudit checks the audit settings. A retention is 0 (forever) or
// at least a day: a shorter one is a typo that would erase the log.
// Refusals are kept no longer than issuances: keeping the noise and
// dropping the record it surrounds would be backwards.
func (c *Config) validateAudit() error {
	keep := func(d Duration) string {
		if d == 0 {
			return "forever"
		}
		return d.String()
	}
	switch {
	case c.AuditRetention < 0 || (c.AuditRetention > 0 && c.AuditRetention < Duration(minAuditRetention)):
		return fmt.Errorf("audit retention %s: must be 0 (keep forever) or at least 1d", c.AuditRetention)
	case c.AuditFailureRetention < 0 || (c.AuditFailureRetention > 0 && c.AuditFailureRetention < Duration(minAuditRetention)):
		return fmt.Errorf("audit failure retention %s: must be 0 (keep forever) or at least 1d", c.AuditFailureRetention)
	case c.AuditRetention > 0 && (c.AuditFailureRetention == 0 || c.AuditFailureRetention > c.AuditRetention):
		return fmt.Errorf("audit failure retention (%s) must not be longer than the audit retention (%s)", keep(c.AuditFailureRetention), keep(c.AuditRetention))
	case c.AuditFailuresPerCaller < 1 || c.AuditFailuresPerCaller > maxAuditFailuresPerCaller:
		return fmt.Errorf("audit failures per caller must be between 1 and %d", maxAuditFailuresPerCaller)
	}
	return nil
}

// checkPostgresURL refuses a PostgreSQL URL that Go and the driver could
// read differently, without showing it.
func checkPostgresURL(database string) error {
	const hint = "percent-encode the user's and password's special characters (@ as %40, / as %2F, : as %3A, ? as %3F, # as %23), or keep the password out of the URL with PGPASSWORD or ~/.pgpass"
	if _, err := url.Parse(database); err != nil {
		return errors.New("database: the postgres:// URL cannot be parsed: " + hint)
	}
	rest := database[strings.Index(database, "://")+3:]
	beforeQuery, _, _ := strings.Cut(rest, "?")
	beforeQuery, _, _ = strings.Cut(beforeQuery, "#")
	authority, path, _ := strings.Cut(beforeQuery, "/")
	if strings.Count(authority, "@") > 1 || strings.Contains(path, "@") {
		return errors.New("database: the postgres:// URL has more than one @: " + hint)
	}
	return nil
}

// databaseSecrets are the parts of a database setting no message may
// show: a PostgreSQL URL's password, as written and decoded, and a
// password= parameter.
func databaseSecrets(database string) []string {
	if !isPostgres(database) {
		return nil
	}
	u, err := url.Parse(database)
	if err != nil {
		return nil // normalizeDatabase refused it
	}
	var secrets []string
	if pw, ok := u.User.Password(); ok && pw != "" {
		secrets = append(secrets, pw, url.UserPassword("", pw).String()[1:])
	}
	for _, pw := range u.Query()["password"] {
		if pw != "" {
			secrets = append(secrets, pw, url.QueryEscape(pw))
		}
	}
	return secrets
}

// redactedError is an error whose message has secrets blanked out; it
// still unwraps to the original, for errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redactDatabase blanks the database setting's secrets out of err.
func redactDatabase(err error, database string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, s := range databaseSecrets(database) {
		msg = strings.ReplaceAll(msg, s, "xxxxx")
	}
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

// expressionLimits are the expression limits configured.
func (c *Config) expressionLimits() construct.Limits {
	return construct.Limits{ValueBytes: c.ExpressionValueBytes, HostBytes: c.ExpressionHostBytes, SyncBytes: c.ExpressionSyncBytes}
}

// timeouts are the sync timeouts configured.
func (c *Config) timeouts() syncer.Timeouts {
	return syncer.Timeouts{Default: time.Duration(c.SyncTimeout), Max: time.Duration(c.SyncTimeoutMax), Lease: time.Duration(c.SyncLease)}
}

func (c *Config) settings() []setting {
	return []setting{
		{"listen", "ROSTER_LISTEN", "address the API listens on", &c.Listen},
		{"tls-cert", "ROSTER_TLS_CERT", "PEM file of the server's TLS certificate (and chain): serve HTTPS; re-read on SIGHUP", &c.TLSCert},
		{"tls-key", "ROSTER_TLS_KEY", "PEM file of the TLS certificate's key", &c.TLSKey},
		{"tls-client-ca", "ROSTER_TLS_CLIENT_CA", "PEM file of the CAs signing client certificates: /api/ then requires one (re-read on SIGHUP)", &c.TLSClientCA},
		{"insecure-listen", "ROSTER_INSECURE_LISTEN", "allow plain HTTP on an address that is not loopback (tokens cross the network in the clear)", &c.InsecureListen},
		{"data-dir", "ROSTER_DATA_DIR", "directory for the database and local state", &c.DataDir},
		{"database", "ROSTER_DATABASE", "SQLite database file (default <data-dir>/roster.db), or a postgres:// URL", &c.Database},
		{"log-level", "ROSTER_LOG_LEVEL", "debug, info, warn or error", &c.LogLevel},
		{"log-format", "ROSTER_LOG_FORMAT", "json or text", &c.LogFormat},
		{"sync-concurrency", "ROSTER_SYNC_CONCURRENCY", "syncs run at once by this process", &c.SyncConcurrency},
		{"sync-timeout", "ROSTER_SYNC_TIMEOUT", "run timeout of sources that set none", &c.SyncTimeout},
		{"sync-timeout-max", "ROSTER_SYNC_TIMEOUT_MAX", "the longest run timeout a source may have", &c.SyncTimeoutMax},
		{"sync-attempts", "ROSTER_SYNC_ATTEMPTS", "tries of a failing sync (retried with backoff)", &c.SyncAttempts},
		{"sync-lease", "ROSTER_SYNC_LEASE", "how long a sync whose process died blocks its source", &c.SyncLease},
		{"schedule-every", "ROSTER_SCHEDULE_EVERY", "how often due scheduled syncs are looked for", &c.ScheduleEvery},
		{"max-body-bytes", "ROSTER_MAX_BODY_BYTES", "largest API request body accepted", &c.MaxBodyBytes},
		{"token-max-ttl", "ROSTER_TOKEN_MAX_TTL", "longest lifetime of a new API token, and that of tokens made without one (0: no bound, no expiry)", &c.TokenMaxTTL},
		{"session-idle-timeout", "ROSTER_SESSION_IDLE_TIMEOUT", "end a sign-in session unused this long", &c.SessionIdleTimeout},
		{"session-max-age", "ROSTER_SESSION_MAX_AGE", "end a sign-in session this long after sign-in, however active", &c.SessionMaxAge},
		{"public-url", "ROSTER_PUBLIC_URL", "Roster's URL as browsers reach it, e.g. https://roster.example:8443 (needed with OpenID Connect sign-in)", &c.PublicURL},
		{"trusted-proxies", "ROSTER_TRUSTED_PROXIES", "proxies in front of Roster whose X-Forwarded-For names the client (comma-separated addresses or prefixes, e.g. 10.0.0.0/8)", &c.TrustedProxies},
		{"expression-value-bytes", "ROSTER_EXPRESSION_VALUE_BYTES", "largest value an expression may build", &c.ExpressionValueBytes},
		{"expression-host-bytes", "ROSTER_EXPRESSION_HOST_BYTES", "largest constructed output (composed vars, groups) of one host", &c.ExpressionHostBytes},
		{"expression-sync-bytes", "ROSTER_EXPRESSION_SYNC_BYTES", "largest constructed output of one sync", &c.ExpressionSyncBytes},
		{"admit-documents", "ROSTER_ADMIT_DOCUMENTS", "whole-inventory documents served at once, more wait then get 429 (default 1 per CPU, slow readers aside)", &c.AdmitDocuments},
		{"admit-requests", "ROSTER_ADMIT_REQUESTS", "other API requests served at once (more wait, then get 429)", &c.AdmitRequests},
		{"admit-wait", "ROSTER_ADMIT_WAIT", "how long a request waits for its turn before a 429", &c.AdmitWait},
		{"document-dir", "ROSTER_DOCUMENT_DIR", "where rendered inventory documents are kept, and a running sync's scratch files: its new and changed hosts until it writes them, an OpenStack region's raw pages until all are listed (default: the system's temporary directory)", &c.DocumentDir},
		{"audit-retention", "ROSTER_AUDIT_RETENTION", "how long audit records of issuances and changes are kept, e.g. 365d (0: forever)", &c.AuditRetention},
		{"audit-failure-retention", "ROSTER_AUDIT_FAILURE_RETENTION", "how long audit records of refusals and failures are kept, at most the audit retention (0: forever)", &c.AuditFailureRetention},
		{"audit-failures-per-caller", "ROSTER_AUDIT_FAILURES_PER_CALLER", "distinct refusal records one token writes per hour; more are counted on one summary record", &c.AuditFailuresPerCaller},
		{"change-retention", "ROSTER_CHANGE_RETENTION", "how long the record of what each sync changed of each host is kept, e.g. 30d (0: forever)", &c.ChangeRetention},
		{"shutdown-timeout", "ROSTER_SHUTDOWN_TIMEOUT", "on SIGTERM, how long running syncs may take to finish before they are stopped (failed, retried later), and then requests in flight", &c.ShutdownTimeout},
		{"secret-backend", "ROSTER_SECRET_BACKEND", "where credentials' secrets live: local or vault", &c.SecretBackend},
		{"secret-key-file", "ROSTER_SECRET_KEY_FILE", "the local backend's key file (default <data-dir>/secret.key)", &c.SecretKeyFile},
		{"vault-addr", "ROSTER_VAULT_ADDR", "Vault's URL", &c.VaultAddr},
		{"vault-namespace", "ROSTER_VAULT_NAMESPACE", "Vault namespace (Enterprise)", &c.VaultNamespace},
		{"vault-ca-cert", "ROSTER_VAULT_CA_CERT", "PEM file of the CA signing Vault's certificate", &c.VaultCACert},
		{"vault-client-cert", "ROSTER_VAULT_CLIENT_CERT", "TLS client certificate for Vault", &c.VaultClientCert},
		{"vault-client-key", "ROSTER_VAULT_CLIENT_KEY", "TLS client key for Vault", &c.VaultClientKey},
		{"vault-token-file", "ROSTER_VAULT_TOKEN_FILE", "file holding a Vault token (ROSTER_VAULT_TOKEN gives the value)", &c.VaultTokenFile},
		{"vault-approle-mount", "ROSTER_VAULT_APPROLE_MOUNT", "AppRole auth mount", &c.VaultAppRoleMount},
		{"vault-role-id-file", "ROSTER_VAULT_ROLE_ID_FILE", "file holding the AppRole role_id (ROSTER_VAULT_ROLE_ID gives the value)", &c.VaultRoleIDFile},
		{"vault-secret-id-file", "ROSTER_VAULT_SECRET_ID_FILE", "file holding the AppRole secret_id (ROSTER_VAULT_SECRET_ID gives the value)", &c.VaultSecretIDFile},
		{"vault-kv-mount", "ROSTER_VAULT_KV_MOUNT", "KV v2 mount", &c.VaultKVMount},
		{"vault-kv-prefix", "ROSTER_VAULT_KV_PREFIX", "path prefix for credentials in KV", &c.VaultKVPrefix},
		{"vault-ssh-mount", "ROSTER_VAULT_SSH_MOUNT", "SSH secrets engine mount", &c.VaultSSHMount},
	}
}

func defaultConfig() Config {
	return Config{
		Listen:               "127.0.0.1:8080",
		DataDir:              defaultDataDir(),
		LogLevel:             "info",
		LogFormat:            "json",
		SyncConcurrency:      4,
		SyncTimeout:          Duration(30 * time.Minute),
		SyncTimeoutMax:       Duration(2 * time.Hour),
		SyncAttempts:         3,
		SyncLease:            Duration(syncer.DefaultLease),
		ScheduleEvery:        Duration(5 * time.Second),
		MaxBodyBytes:         1 << 20,
		ExpressionValueBytes: construct.DefaultValueBytes,
		ExpressionHostBytes:  construct.DefaultHostBytes,
		ExpressionSyncBytes:  construct.DefaultSyncBytes,
		AdmitRequests:        api.DefaultAdmitRequests,
		AdmitWait:            Duration(api.DefaultAdmitWait),
		SessionIdleTimeout:   Duration(api.DefaultSessionIdleTimeout),
		SessionMaxAge:        Duration(api.DefaultSessionMaxAge),
		SecretBackend:        "local",
		VaultKVMount:         "secret",
		VaultKVPrefix:        "roster",
		VaultSSHMount:        "ssh",

		AuditRetention:         Duration(defaultAuditRetention),
		AuditFailureRetention:  Duration(defaultAuditFailureRetention),
		AuditFailuresPerCaller: roster.DefaultAuditPerCaller,
		ChangeRetention:        Duration(defaultChangeRetention),
		ShutdownTimeout:        Duration(30 * time.Second),
	}
}

// defaultDataDir follows the XDG base directory convention.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "roster")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "roster")
	}
	return "roster-data"
}

// addConfigFlags registers the config flags of cmd.
func addConfigFlags(fs *pflag.FlagSet, c *Config) {
	fs.String("config", "", "YAML config file (env ROSTER_CONFIG)")
	for _, s := range c.settings() {
		usage := s.usage + " (env " + s.env + ")"
		switch p := s.ptr.(type) {
		case *string:
			fs.String(s.flag, *p, usage)
		case *int:
			fs.Int(s.flag, *p, usage)
		case *int64:
			fs.Int64(s.flag, *p, usage)
		case *bool:
			fs.Bool(s.flag, *p, usage)
		case *Duration:
			fs.String(s.flag, p.String(), usage)
		}
	}
}

// loadConfig resolves the configuration of a command.
func loadConfig(cmd *cobra.Command, base Config) (Config, error) {
	c := base
	path, _ := cmd.Flags().GetString("config")
	if path == "" {
		path = os.Getenv("ROSTER_CONFIG")
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("read config file: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return c, fmt.Errorf("config file %s: %s", path, yamlReason(err))
		}
	}
	for _, s := range c.settings() {
		v, fromEnv := os.LookupEnv(s.env)
		f := cmd.Flags().Lookup(s.flag)
		switch {
		case f != nil && f.Changed:
			v = f.Value.String()
		case !fromEnv:
			continue
		}
		if err := setValue(s.ptr, v); err != nil {
			return c, fmt.Errorf("%s / %s: %w", s.flag, s.env, err)
		}
	}
	if c.Database == "" {
		c.Database = filepath.Join(c.DataDir, "roster.db")
	}
	var err error
	if c.Database, err = normalizeDatabase(c.Database); err != nil {
		return c, err
	}
	if c.SecretKeyFile == "" {
		c.SecretKeyFile = filepath.Join(c.DataDir, "secret.key")
	}
	switch {
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return c, errors.New("TLS needs both --tls-cert and --tls-key (ROSTER_TLS_CERT, ROSTER_TLS_KEY)")
	case c.TLSClientCA != "" && c.TLSCert == "":
		return c, errors.New("--tls-client-ca needs TLS: give --tls-cert and --tls-key too")
	}
	switch c.SecretBackend {
	case "local":
	case "vault":
		if c.VaultAddr == "" {
			return c, fmt.Errorf("secret backend vault needs --vault-addr (ROSTER_VAULT_ADDR)")
		}
	default:
		return c, fmt.Errorf("secret backend %q: must be local or vault", c.SecretBackend)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return c, err
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return c, fmt.Errorf("log format %q: must be json or text", c.LogFormat)
	}
	if c.SyncConcurrency < 1 {
		return c, fmt.Errorf("sync concurrency must be at least 1")
	}
	if c.SyncAttempts < 1 {
		return c, fmt.Errorf("sync attempts must be at least 1")
	}
	switch {
	case c.SyncTimeoutMax < Duration(time.Second):
		return c, fmt.Errorf("sync timeout max must be at least 1s")
	case c.SyncTimeout < Duration(time.Second) || c.SyncTimeout > c.SyncTimeoutMax:
		return c, fmt.Errorf("sync timeout must be between 1s and the sync timeout max (%s)", c.SyncTimeoutMax)
	case c.SyncLease < Duration(2*time.Second) || c.SyncLease > Duration(time.Hour):
		return c, fmt.Errorf("sync lease must be between 2s and 1h")
	case c.ScheduleEvery < Duration(time.Second):
		return c, fmt.Errorf("schedule every must be at least 1s")
	case c.AdmitDocuments < 0 || c.AdmitRequests < 1:
		return c, fmt.Errorf("admit documents must not be negative (0: 1 per CPU), admit requests must be at least 1")
	case c.TokenMaxTTL != 0 && c.TokenMaxTTL < Duration(time.Minute):
		return c, fmt.Errorf("token max ttl must be 0 (no bound) or at least 1m")
	case c.AdmitWait < Duration(time.Millisecond):
		return c, fmt.Errorf("admit wait must be at least 1ms")
	case c.ShutdownTimeout < 0 || c.ShutdownTimeout > Duration(time.Hour):
		return c, fmt.Errorf("shutdown timeout must be between 0 and 1h")
	case c.SessionIdleTimeout < Duration(time.Minute) || c.SessionMaxAge < c.SessionIdleTimeout || c.SessionMaxAge > Duration(30*24*time.Hour):
		return c, fmt.Errorf("session idle timeout must be at least 1m, and session max age at least that and at most 720h")
	}
	if err := c.validateAudit(); err != nil {
		return c, err
	}
	if c.ChangeRetention < 0 || (c.ChangeRetention > 0 && c.ChangeRetention < Duration(minChangeRetention)) {
		return c, fmt.Errorf("change retention %s: must be 0 (keep forever) or at least 1h", c.ChangeRetention)
	}
	if err := c.validateSignIn(); err != nil {
		return c, fmt.Errorf("sign-in: %w", err)
	}
	if err := c.expressionLimits().Validate(); err != nil {
		return c, fmt.Errorf("expression limits: %w", err)
	}
	return c, nil
}

func setValue(ptr any, v string) error {
	switch p := ptr.(type) {
	case *string:
		*p = v
	case *int:
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		*p = n
	case *int64:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		*p = n
	case *bool:
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		*p = b
	case *Duration:
		return p.UnmarshalText([]byte(v))
	}
	return nil
}

// Duration is a time.Duration written as "30s", "10m", "2h" in flags,
// environment variables and the config file.
type Duration time.Duration

// Whole days are written "365d" too, for retention periods.
func (d Duration) String() string {
	if day := Duration(24 * time.Hour); d > 0 && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return time.Duration(d).String()
}

// UnmarshalText implements encoding.TextUnmarshaler (YAML uses it too).
func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if days, ok := strings.CutSuffix(s, "d"); ok {
		// Beyond 100,000 days time.Duration overflows.
		if n, err := strconv.ParseInt(days, 10, 32); err == nil && n >= 0 && n <= 100_000 {
			*d = Duration(time.Duration(n) * 24 * time.Hour)
			return nil
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 30s, 10m or 2h", b)
	}
	*d = Duration(v)
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("log level %q: must be debug, info, warn or error", s)
	}
	return l, nil
}

// newLogger returns the process logger.
func newLogger(c Config, w *os.File) *slog.Logger {
	level, _ := parseLevel(c.LogLevel)
	return newLoggerAt(c, w, level)
}

// newLoggerAt returns the process logger logging at level.
func newLoggerAt(c Config, w *os.File, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// unknownField is yaml's words for a key Config does not have.
var unknownField = regexp.MustCompile(`field (\S+) not found in type \S+`)

// yamlReason is a YAML decoding error in one line, in the user's terms:
// every problem the decoder found, an unknown key named as a setting.
func yamlReason(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return strings.TrimPrefix(err.Error(), "yaml: ")
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		msgs[i] = unknownField.ReplaceAllString(m, "unknown setting $1")
	}
	return strings.Join(msgs, "; ")
}
