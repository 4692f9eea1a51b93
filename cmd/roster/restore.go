package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/vault"
)

// restoreOptions are restore's own flags.
type restoreOptions struct {
	from, keyFrom, passphraseFile string
	force                         bool
}

func newRestoreCommand() *cobra.Command {
	base := defaultConfig()
	var o restoreOptions
	cmd := &cobra.Command{
		Use:   "restore --from FILE",
		Short: "Bring back a backup of roster backup into a data directory",
		Long: `Restore checks a backup (its manifest, its checksum, the database's integrity),
checks that the local secret key opens its secrets, and puts the database in place
(upgrading its schema if it is older). Syncs that were running when the backup
was taken are recorded as failed (none of their changes is in it) and retried
once roster serve runs.

The key comes from --key-from (a copy of the key file, written to the configured
--secret-key-file), from the archive (--passphrase-file, for a backup made with
--include-key), from ROSTER_SECRET_KEY, or from the configured key file if it is
there already. A database already in place is not replaced without --force.`,
		Example: `  roster restore --from roster-2026-12-07.tar.gz --data-dir /var/lib/roster --key-from ./secret.key`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadConfig(cmd, base)
			if err != nil {
				return err
			}
			if o.from == "" {
				return errors.New("--from: name the archive to restore (- for standard input)")
			}
			if isPostgres(c.Database) {
				return errors.New("roster restore brings back the embedded SQLite database; restore PostgreSQL with pg_restore (README \"Backup and restore\")")
			}
			return restore(cmd.Context(), c, o, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	addConfigFlags(cmd.Flags(), &base)
	cmd.Flags().StringVar(&o.from, "from", "", "archive to restore (- for standard input)")
	cmd.Flags().StringVar(&o.keyFrom, "key-from", "", "the local secret key file the backup's secrets were sealed with (copied to --secret-key-file)")
	cmd.Flags().StringVar(&o.passphraseFile, "passphrase-file", "", "file holding the passphrase of a key the archive carries (backup --include-key)")
	cmd.Flags().BoolVar(&o.force, "force", false, "replace the database (and a different key file) already in place")
	return cmd
}

// restoring is a backup being restored: the database is extracted beside
// its destination, checked and prepared, then renamed into place.
type restoring struct {
	c         Config
	o         restoreOptions
	manifest  *backupManifest
	wrapped   []byte
	tmp       string // the extracted database
	extracted bool
	info      *store.SnapshotInfo
	key       *vault.LocalKey // nil: no sealed secrets, no key given
	writeKey  bool            // the key goes to c.SecretKeyFile
	seen      map[string]bool // the archive's entries so far
}

func restore(ctx context.Context, c Config, o restoreOptions, stdin io.Reader, out io.Writer) error {
	if err := store.PrepareSQLite(c.Database); err != nil {
		return err
	}
	lock, err := lockServing(c.Database)
	if err != nil {
		return fmt.Errorf("%w; stop it before restoring", err)
	}
	defer lock.Close()
	if !o.force {
		for _, p := range []string{c.Database, c.Database + "-wal", c.Database + "-shm", c.Database + "-journal"} {
			if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%s exists: restore into a new data directory, or give --force to replace its database (what it holds is lost)", p)
			}
		}
	}
	r := &restoring{c: c, o: o, tmp: c.Database + ".restoring"}
	defer removeDatabaseFiles(r.tmp)
	removeDatabaseFiles(r.tmp) // left by a restore cut off
	if err := r.extract(stdin); err != nil {
		return err
	}
	if r.info, err = store.InspectSQLiteCopy(ctx, r.tmp); err != nil {
		return fmt.Errorf("the backup's database: %w", err)
	}
	if err := r.resolveKey(); err != nil {
		return err
	}
	failed, err := r.prepare(ctx)
	if err != nil {
		return err
	}
	if err := r.install(); err != nil {
		return err
	}
	fmt.Fprintf(out, "restored %s (taken %s by roster %s) into %s: schema %d, %d inventories, %d hosts, %d sealed secrets\n",
		o.from, r.manifest.CreatedAt.Format("2006-01-02 15:04:05Z"), r.manifest.RosterVersion, c.Database,
		r.info.Schema, r.info.Inventories, r.info.Hosts, r.info.SecretBlobs)
	if r.key != nil {
		fmt.Fprintf(out, "the local secret key %s opens its secrets\n", r.key.ID())
	}
	if failed > 0 {
		fmt.Fprintf(out, "%d syncs running when the backup was taken are recorded as failed, and retried once roster serve runs\n", failed)
	}
	return nil
}

// extract reads the archive: its manifest, the wrapped key if any, and
// the database into r.tmp, checked against the manifest's size and hash.
func (r *restoring) extract(stdin io.Reader) error {
	in := stdin
	if r.o.from != "-" {
		f, err := os.Open(r.o.from)
		if err != nil {
			return fmt.Errorf("open the backup: %w", err)
		}
		defer f.Close()
		in = f
	}
	zr, err := gzip.NewReader(in)
	if err != nil {
		return fmt.Errorf("%s is not a backup of roster backup (not gzip): %w", r.o.from, err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read the backup %s: %w", r.o.from, err)
		}
		if err := r.entry(h, tr); err != nil {
			return err
		}
	}
	switch {
	case r.manifest == nil:
		return fmt.Errorf("the backup %s is empty", r.o.from)
	case !r.extracted:
		return fmt.Errorf("the backup %s is incomplete: it holds no %s", r.o.from, backupDatabaseName)
	}
	return nil
}

// entry reads one entry of the archive.
func (r *restoring) entry(h *tar.Header, tr io.Reader) error {
	if h.Typeflag != tar.TypeReg {
		return fmt.Errorf("the backup holds %q, which is not a regular file: not a backup of roster backup", h.Name)
	}
	if r.manifest == nil && h.Name != backupManifestName {
		return fmt.Errorf("the backup %s does not start with its %s: not a backup of roster backup", r.o.from, backupManifestName)
	}
	// Each entry once: a second manifest would replace the one the
	// database was checked against.
	if r.seen[h.Name] {
		return fmt.Errorf("the backup holds %q twice: not a backup of roster backup", h.Name)
	}
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	r.seen[h.Name] = true
	switch h.Name {
	case backupManifestName:
		b, err := readBounded(tr, maxManifestBytes, h.Name)
		if err != nil {
			return err
		}
		var m backupManifest
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("the backup's manifest: %w", err)
		}
		if m.Format != backupFormat || m.Database != "sqlite" {
			return fmt.Errorf("the backup is in format %d of a %q database; this roster reads format %d of sqlite", m.Format, m.Database, backupFormat)
		}
		r.manifest = &m
	case backupKeyName:
		b, err := readBounded(tr, maxWrappedKeyBytes, h.Name)
		if err != nil {
			return err
		}
		r.wrapped = b
	case backupDatabaseName:
		return r.extractDatabase(tr)
	default:
		return fmt.Errorf("the backup holds %q, which roster backup does not write", h.Name)
	}
	return nil
}

// extractDatabase copies the database to r.tmp, checking its size and
// hash against the manifest.
func (r *restoring) extractDatabase(tr io.Reader) error {
	f, err := os.OpenFile(r.tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("extract the database: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(tr, r.manifest.DatabaseBytes+1))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) {
		return fmt.Errorf("the backup %s is cut short or damaged: %w", r.o.from, err)
	}
	if err != nil {
		return fmt.Errorf("extract the database to %s: %w", r.tmp, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); n != r.manifest.DatabaseBytes || sum != r.manifest.DatabaseSHA256 {
		return fmt.Errorf("the backup's database is damaged: %d bytes with SHA-256 %s, the manifest says %d bytes with %s",
			n, sum, r.manifest.DatabaseBytes, r.manifest.DatabaseSHA256)
	}
	r.extracted = true
	return nil
}

// resolveKey finds the local key that opens the backup's secrets, and
// checks that it is the one that sealed them.
func (r *restoring) resolveKey() error {
	var err error
	switch {
	case r.o.keyFrom != "":
		r.key, err = vault.ReadKeyFile(r.o.keyFrom)
		r.writeKey = true
	case r.o.passphraseFile != "":
		if r.wrapped == nil {
			return errors.New("--passphrase-file: the backup carries no key (it was taken without --include-key); give the key with --key-from")
		}
		pass, perr := readPassphrase(r.o.passphraseFile)
		if perr != nil {
			return perr
		}
		r.key, err = vault.UnwrapKey(r.wrapped, pass)
		r.writeKey = true
	case os.Getenv("ROSTER_SECRET_KEY") != "":
		r.key, err = configuredKey(r.c)
	case fileExists(r.c.SecretKeyFile):
		r.key, err = vault.ReadKeyFile(r.c.SecretKeyFile)
	}
	if err != nil {
		return err
	}
	ids := r.manifest.SecretKeyIDs
	switch {
	case r.key == nil && len(ids) > 0 && r.wrapped != nil:
		return fmt.Errorf("the backup's secrets are sealed with key %s, which the archive carries wrapped: give its passphrase with --passphrase-file", strings.Join(ids, ", "))
	case r.key == nil && len(ids) > 0:
		return fmt.Errorf("the backup's secrets are sealed with key %s: give that key with --key-from FILE (or ROSTER_SECRET_KEY)", strings.Join(ids, ", "))
	case r.key != nil && len(ids) > 0 && !slices.Contains(ids, r.key.ID()):
		return fmt.Errorf("the key %s is not the one the backup's secrets are sealed with (%s)", r.key.ID(), strings.Join(ids, ", "))
	}
	if r.writeKey && fileExists(r.c.SecretKeyFile) {
		there, err := vault.ReadKeyFile(r.c.SecretKeyFile)
		switch {
		case err == nil && there.ID() == r.key.ID():
			r.writeKey = false // in place already
		case !r.o.force:
			return fmt.Errorf("%s holds another key: give --force to replace it (secrets sealed with it become unreadable)", r.c.SecretKeyFile)
		}
	}
	return nil
}

// prepare makes the extracted copy ready to serve: the runs it holds as
// running failed, its schema upgraded, its secrets opened with the key,
// and it left in rollback-journal mode as one file, ready to be renamed.
func (r *restoring) prepare(ctx context.Context) (failed int, err error) {
	if failed, err = store.FailRunningRuns(ctx, r.tmp, runningAtBackupReason); err != nil {
		return 0, err
	}
	st, err := store.OpenSQLite(ctx, r.tmp)
	if err != nil {
		return 0, fmt.Errorf("open the backup's database: %w", err)
	}
	err = r.openSecret(ctx, st)
	err = errors.Join(err, st.Close())
	if err != nil {
		return 0, err
	}
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(r.tmp)+"?mode=rw")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `PRAGMA journal_mode=DELETE`); err != nil {
		return 0, fmt.Errorf("prepare the backup's database: %w", err)
	}
	return failed, nil
}

// openSecret opens one sealed secret of the copy with the key: a key that
// does not open them fails the restore, not the first credential request.
func (r *restoring) openSecret(ctx context.Context, st *store.SQLite) error {
	if r.key == nil || r.info.SealedPath == "" {
		return nil
	}
	local, err := vault.NewLocal(st, r.key, vault.LocalOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	if err := local.Opens(ctx, r.info.SealedPath); err != nil {
		return fmt.Errorf("the key %s does not open the backup's secrets: %w", r.key.ID(), err)
	}
	return nil
}

// install renames the copy into place (replacing a database only with
// --force, checked before) and writes the key file.
func (r *restoring) install() error {
	if r.o.force {
		// The old database's WAL files go first (SQLite would apply an old
		// WAL to the new file); the database itself is replaced by the
		// rename, at once: a crash leaves the old one or the new one.
		removeWALFiles(r.c.Database)
	}
	if err := os.Rename(r.tmp, r.c.Database); err != nil {
		return fmt.Errorf("put the database in place: %w", err)
	}
	if err := syncDir(filepath.Dir(r.c.Database)); err != nil {
		return err
	}
	if !r.writeKey {
		return nil
	}
	if r.o.force {
		os.Remove(r.c.SecretKeyFile)
	}
	if err := os.MkdirAll(filepath.Dir(r.c.SecretKeyFile), 0o700); err != nil {
		return err
	}
	if err := vault.WriteKeyFile(r.c.SecretKeyFile, r.key); err != nil {
		return fmt.Errorf("the database is restored, but writing its key failed (copy the key to %s by hand): %w", r.c.SecretKeyFile, err)
	}
	return nil
}

// removeDatabaseFiles removes a SQLite database and its WAL files.
func removeDatabaseFiles(path string) {
	os.Remove(path)
	removeWALFiles(path)
}

// removeWALFiles removes the files SQLite keeps beside a database.
func removeWALFiles(path string) {
	for _, p := range []string{path + "-wal", path + "-shm", path + "-journal"} {
		os.Remove(p)
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// readBounded reads what r holds, at most limit bytes.
func readBounded(r io.Reader, limit int64, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read the backup's %s: %w", name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("the backup's %s is larger than %d bytes", name, limit)
	}
	return b, nil
}
