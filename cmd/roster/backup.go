package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/vault"
)

// A backup is a gzipped tar archive: backupManifest first, then the
// local key wrapped under a passphrase if asked for, then the database.
const (
	backupFormat       = 1
	backupManifestName = "MANIFEST.json"
	backupKeyName      = "secret.key.wrapped"
	backupDatabaseName = "roster.db"

	maxManifestBytes   = 64 << 10
	maxWrappedKeyBytes = 4 << 10
	maxPassphraseBytes = 4 << 10
)

// runningAtBackupReason is the error of the runs a restored backup held as
// running.
const runningAtBackupReason = "the sync was running when the backup was taken; nothing was changed"

// backupManifest describes a backup; the restore checks the database
// against it.
type backupManifest struct {
	Format         int       `json:"format"`
	RosterVersion  string    `json:"roster_version"`
	CreatedAt      time.Time `json:"created_at"`
	Database       string    `json:"database"` // "sqlite"
	DatabaseBytes  int64     `json:"database_bytes"`
	DatabaseSHA256 string    `json:"database_sha256"`
	store.SnapshotInfo
	// SecretKeyIDs are the ids of the keys that sealed the secrets in
	// the database (public fingerprints, not keys).
	SecretKeyIDs      []string `json:"secret_key_ids"`
	SecretKeyIncluded bool     `json:"secret_key_included"`
}

func newBackupCommand() *cobra.Command {
	base := defaultConfig()
	var to, passphraseFile string
	var includeKey bool
	cmd := &cobra.Command{
		Use:   "backup --to FILE",
		Short: "Take a consistent copy of the SQLite database while it serves and syncs",
		Long: `Backup writes a consistent copy of the SQLite database (as of the last committed
change: a sync running meanwhile is in it whole or not at all) to FILE, a gzipped
tar archive, while roster serve goes on serving and syncing. Run it as the user
the server runs as.

The local secret backend's secrets stay sealed in the copy. The key that opens
them is not in the archive unless --include-key is given, and then only wrapped
under the passphrase of --passphrase-file: keep the key (<data-dir>/secret.key or
ROSTER_SECRET_KEY) apart from the archive, and give it to roster restore.

PostgreSQL is backed up with pg_dump (README "Backup and restore").`,
		Example: `  roster backup --data-dir /var/lib/roster --to roster-$(date +%F).tar.gz`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadConfig(cmd, base)
			if err != nil {
				return err
			}
			if to == "" {
				return errors.New("--to: name the archive to write (- for standard output)")
			}
			if includeKey != (passphraseFile != "") {
				return errors.New("--include-key and --passphrase-file go together: the key travels only wrapped under a passphrase")
			}
			return backup(cmd.Context(), c, to, passphraseFile, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	addConfigFlags(cmd.Flags(), &base)
	cmd.Flags().StringVar(&to, "to", "", "archive to write (- for standard output); it must not exist")
	cmd.Flags().BoolVar(&includeKey, "include-key", false, "put the local secret key in the archive, wrapped under the passphrase of --passphrase-file")
	cmd.Flags().StringVar(&passphraseFile, "passphrase-file", "", "file holding the passphrase that wraps the key (at least 16 bytes)")
	return cmd
}

// backup writes the archive of c's SQLite database to to.
func backup(ctx context.Context, c Config, to, passphraseFile string, stdout, stderr io.Writer) error {
	if isPostgres(c.Database) {
		return errors.New("roster backup copies the embedded SQLite database; back up PostgreSQL with pg_dump (README \"Backup and restore\")")
	}
	if to != "-" {
		if _, err := os.Stat(to); !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s exists: name a new file", to)
		}
	}
	work, err := os.MkdirTemp(workDirFor(to), ".roster-backup-")
	if err != nil {
		return fmt.Errorf("make a working directory: %w", err)
	}
	defer os.RemoveAll(work)
	snapshot := filepath.Join(work, backupDatabaseName)
	info, err := store.SnapshotSQLite(ctx, c.Database, snapshot)
	if err != nil {
		return err
	}
	m := &backupManifest{Format: backupFormat, RosterVersion: buildVersion(), CreatedAt: time.Now().UTC().Truncate(time.Second),
		Database: "sqlite", SnapshotInfo: *info, SecretKeyIDs: sealedKeyIDs(info)}
	if m.DatabaseBytes, m.DatabaseSHA256, err = hashFile(snapshot); err != nil {
		return err
	}
	var wrapped []byte
	if passphraseFile != "" {
		if wrapped, err = wrapBackupKey(c, m, passphraseFile); err != nil {
			return err
		}
		m.SecretKeyIncluded = true
	}
	if err := writeArchive(to, m, wrapped, snapshot, stdout); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "backup %s: schema %d, %d inventories, %d hosts, %d sealed secrets; %d syncs were running (not in it)\n",
		to, m.Schema, m.Inventories, m.Hosts, m.SecretBlobs, m.RunningRuns)
	switch {
	case m.SecretKeyIncluded:
		fmt.Fprintf(stderr, "the local secret key %s is in the archive, wrapped under the passphrase of %s\n", strings.Join(m.SecretKeyIDs, ", "), passphraseFile)
	case len(m.SecretKeyIDs) > 0:
		fmt.Fprintf(stderr, "the secrets are sealed with key %s, which is not in the archive: keep the key file (%s) or ROSTER_SECRET_KEY apart from it; roster restore needs it\n",
			strings.Join(m.SecretKeyIDs, ", "), c.SecretKeyFile)
	}
	return nil
}

// workDirFor is where the copy is made before it is archived: beside the
// archive (same file system, and the copy is as big as the database).
func workDirFor(to string) string {
	if to == "-" {
		return os.TempDir()
	}
	return filepath.Dir(to)
}

// sealedKeyIDs are the ids of the keys that sealed the copy's secrets.
func sealedKeyIDs(info *store.SnapshotInfo) []string {
	var ids []string
	for _, head := range info.SealedHeads {
		if id := vault.SealedKeyID(head); id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// wrapBackupKey wraps the configured local key under the passphrase of a
// file; the key must be the one that sealed the database's secrets.
func wrapBackupKey(c Config, m *backupManifest, passphraseFile string) ([]byte, error) {
	key, err := configuredKey(c)
	if err != nil {
		return nil, err
	}
	if len(m.SecretKeyIDs) > 0 && !slices.Contains(m.SecretKeyIDs, key.ID()) {
		return nil, fmt.Errorf("the configured local secret key %s is not the one the database's secrets are sealed with (%s)", key.ID(), strings.Join(m.SecretKeyIDs, ", "))
	}
	pass, err := readPassphrase(passphraseFile)
	if err != nil {
		return nil, err
	}
	return vault.WrapKey(key, pass)
}

// configuredKey is the local key the configuration names:
// ROSTER_SECRET_KEY, or the key file (never created here).
func configuredKey(c Config) (*vault.LocalKey, error) {
	if env := os.Getenv("ROSTER_SECRET_KEY"); env != "" {
		return vault.KeyFromBase64(roster.Secret(env))
	}
	return vault.ReadKeyFile(c.SecretKeyFile)
}

// readPassphrase reads a passphrase file, without its final line break.
func readPassphrase(path string) (roster.Secret, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("passphrase file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPassphraseBytes+1))
	if err != nil {
		return "", fmt.Errorf("passphrase file %s: %w", path, err)
	}
	if len(b) > maxPassphraseBytes {
		return "", fmt.Errorf("passphrase file %s is longer than %d bytes", path, maxPassphraseBytes)
	}
	return roster.Secret(strings.TrimRight(string(b), "\r\n")), nil
}

// hashFile returns a file's size and SHA-256.
func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("read %s: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// writeArchive writes the archive to to (- : stdout): into a temporary
// file beside it, mode 0600, renamed into place once complete, so that a
// backup cut off leaves no archive that looks whole.
func writeArchive(to string, m *backupManifest, wrapped []byte, database string, stdout io.Writer) error {
	if to == "-" {
		return archive(stdout, m, wrapped, database)
	}
	f, err := os.CreateTemp(filepath.Dir(to), ".roster-backup-*.partial")
	if err != nil {
		return fmt.Errorf("create the archive: %w", err)
	}
	defer os.Remove(f.Name())
	err = archive(f, m, wrapped, database)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write the archive %s: %w", to, err)
	}
	// A link fails where a file appeared since: nothing is replaced.
	if err := os.Link(f.Name(), to); err != nil {
		return fmt.Errorf("write the archive: %w", err)
	}
	return nil
}

// archive writes the archive's entries to w.
func archive(w io.Writer, m *backupManifest, wrapped []byte, database string) error {
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	add := func(name string, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: size, ModTime: m.CreatedAt, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	}
	if err := add(backupManifestName, int64(len(manifest)), strings.NewReader(string(manifest))); err != nil {
		return err
	}
	if wrapped != nil {
		if err := add(backupKeyName, int64(len(wrapped)), strings.NewReader(string(wrapped))); err != nil {
			return err
		}
	}
	db, err := os.Open(database)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := add(backupDatabaseName, m.DatabaseBytes, db); err != nil {
		return err
	}
	return errors.Join(tw.Close(), zw.Close())
}
