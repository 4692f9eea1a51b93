package ansibleinv

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The cache keeps the last --list document of each inventory the user
// reads, with its ETag: the next read asks Roster with If-None-Match and,
// on 304 Not Modified, prints the kept copy without fetching or checking
// it again. An entry is one file, written whole under another name and
// renamed into place, so a reader sees an old entry or a new one, never
// a part. Its name is a hash of the request's URL and token (never the
// token itself); its content ends with a trailer giving the document's
// size, checksum and ETag, so a cut or damaged entry is seen and ignored.

// Bounds of the cache directory: the newest entries are kept while they
// fit; the newest is kept whatever its size.
const (
	maxCacheEntries = 8
	maxCacheBytes   = 1 << 30
	// staleSpool is the age after which a spool file left by a killed
	// script is removed.
	staleSpool = time.Hour
)

const (
	cachePrefix = "inventory-"
	spoolPrefix = "spool-"
	// trailerMagic ends every entry, after the trailer's length.
	trailerMagic = "roster-inventory-cache-1"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// trailer follows the document in an entry.
type trailer struct {
	ETag   string `json:"etag"`
	Size   int64  `json:"size"`
	CRC32C uint32 `json:"crc32c"`
}

// defaultCacheDir is $XDG_CACHE_HOME/roster, else ~/.cache/roster, else
// "" (no cache).
func defaultCacheDir(getenv func(string) string) string {
	if dir := getenv("XDG_CACHE_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "roster")
	}
	if home := getenv("HOME"); filepath.IsAbs(home) {
		return filepath.Join(home, ".cache", "roster")
	}
	return ""
}

// cacheEntryPath names the entry of a --list read: a hash of what
// selects the document and who may read it.
func cacheEntryPath(dir string, c Config) string {
	c.MaxAge = nil // asks for a sync; the document is the same resource
	h := sha256.New()
	io.WriteString(h, requestURL(c, ""))
	h.Write([]byte{0})
	io.WriteString(h, c.Token.Reveal())
	return filepath.Join(dir, cachePrefix+hex.EncodeToString(h.Sum(nil)[:16])+".json")
}

// cached is a verified cache entry, open.
type cached struct {
	file *os.File
	trailer
}

// openCached opens the entry at path when it is whole: nil when there is
// none or it is damaged (then it is removed).
func openCached(path string) *cached {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	t, err := readTrailer(f)
	if err == nil {
		err = checkCRC(f, t)
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil
	}
	return &cached{file: f, trailer: t}
}

func readTrailer(f *os.File) (trailer, error) {
	var t trailer
	fi, err := f.Stat()
	if err != nil {
		return t, err
	}
	tail := int64(8 + len(trailerMagic))
	if fi.Size() < tail {
		return t, errors.New("too short")
	}
	end := make([]byte, tail)
	if _, err := f.ReadAt(end, fi.Size()-tail); err != nil {
		return t, err
	}
	if string(end[8:]) != trailerMagic {
		return t, errors.New("no trailer")
	}
	n := int64(binary.BigEndian.Uint64(end[:8]))
	if n <= 0 || n > 64<<10 || n > fi.Size()-tail {
		return t, errors.New("bad trailer length")
	}
	raw := make([]byte, n)
	if _, err := f.ReadAt(raw, fi.Size()-tail-n); err != nil {
		return t, err
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return t, err
	}
	if t.ETag == "" || t.Size != fi.Size()-tail-n {
		return t, errors.New("bad trailer")
	}
	return t, nil
}

func checkCRC(f *os.File, t trailer) error {
	h := crc32.New(castagnoli)
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, t.Size)); err != nil {
		return err
	}
	if h.Sum32() != t.CRC32C {
		return errors.New("checksum mismatch")
	}
	return nil
}

// writeTo prints the document; the file's time moves, so that pruning
// keeps the entries in use.
func (e *cached) writeTo(w io.Writer) error {
	now := time.Now()
	os.Chtimes(e.file.Name(), now, now)
	_, err := io.Copy(w, io.NewSectionReader(e.file, 0, e.Size))
	return err
}

// spoolFile is where a document is kept while it arrives and is checked:
// in the cache directory, so that it becomes the entry by a rename, else
// an unlinked temporary file.
func spoolFile(cacheDir string) (f *os.File, inCache bool, err error) {
	if cacheDir != "" {
		if err := os.MkdirAll(cacheDir, 0o700); err == nil {
			if f, err := os.CreateTemp(cacheDir, spoolPrefix+"*"); err == nil {
				return f, true, nil
			}
		}
		// An unwritable cache is no cache: the read goes on without it.
	}
	f, err = os.CreateTemp("", "roster-inventory-*.json")
	if err != nil {
		return nil, false, err
	}
	// Unlinked at once (the open file stays readable): a killed script
	// leaves nothing behind. Where an open file cannot be unlinked
	// (Windows), it goes when the script ends.
	os.Remove(f.Name())
	return f, false, nil
}

// store makes the spool f, holding a checked document of size bytes with
// checksum sum, the entry at path for etag. A failure leaves no entry.
func store(f *os.File, path, etag string, size int64, sum uint32) error {
	raw, err := json.Marshal(trailer{ETag: etag, Size: size, CRC32C: sum})
	if err != nil {
		return err
	}
	var tail bytes.Buffer
	tail.Write(raw)
	binary.Write(&tail, binary.BigEndian, uint64(len(raw)))
	tail.WriteString(trailerMagic)
	if _, err := f.WriteAt(tail.Bytes(), size); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	prune(filepath.Dir(path), path)
	return nil
}

// prune bounds the cache directory: the newest entries while they fit
// maxCacheEntries and maxCacheBytes (keep, just written, stays), and no
// spool a killed script left.
func prune(dir, keep string) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type entry struct {
		path string
		fi   os.FileInfo
	}
	var entries []entry
	for _, de := range des {
		fi, err := de.Info()
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		path := filepath.Join(dir, de.Name())
		switch {
		case strings.HasPrefix(de.Name(), spoolPrefix) && time.Since(fi.ModTime()) > staleSpool:
			os.Remove(path)
		case strings.HasPrefix(de.Name(), cachePrefix) && path != keep:
			entries = append(entries, entry{path, fi})
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return b.fi.ModTime().Compare(a.fi.ModTime()) })
	var total int64
	if fi, err := os.Stat(keep); err == nil {
		total = fi.Size()
	}
	for i, e := range entries {
		total += e.fi.Size()
		if i+1 >= maxCacheEntries || total > maxCacheBytes {
			os.Remove(e.path)
		}
	}
}
