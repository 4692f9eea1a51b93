package ansibleinv

import (
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestPruneBoundsTheCache: the cache keeps the newest maxCacheEntries
// entries (the one just written whatever its age) and drops the spools a
// killed script left, but not one being written.
func TestPruneBoundsTheCache(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	var paths []string
	for i := range maxCacheEntries + 4 {
		p := filepath.Join(dir, fmt.Sprintf("%s%02d.json", cachePrefix, i))
		if err := os.WriteFile(p, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
		mtime := now.Add(-time.Duration(i) * time.Minute) // 0 is the newest
		os.Chtimes(p, mtime, mtime)
		paths = append(paths, p)
	}
	old, fresh := filepath.Join(dir, spoolPrefix+"old"), filepath.Join(dir, spoolPrefix+"new")
	os.WriteFile(old, nil, 0o600)
	os.WriteFile(fresh, nil, 0o600)
	os.Chtimes(old, now.Add(-2*staleSpool), now.Add(-2*staleSpool))
	keep := paths[len(paths)-1] // the oldest file: just renamed into place

	prune(dir, keep)
	var left []string
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		left = append(left, filepath.Join(dir, de.Name()))
	}
	want := append(slices.Clone(paths[:maxCacheEntries-1]), keep, fresh)
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Fatalf("left %v\nwant %v", left, want)
	}
}

// TestDamagedEntryIgnored: an entry whose bytes or trailer do not agree is
// not used, and is removed.
func TestDamagedEntryIgnored(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, cachePrefix+"x.json")
	write := func() {
		f, err := os.CreateTemp(dir, spoolPrefix)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		f.WriteString(validList)
		if err := store(f, path, `"e1"`, int64(len(validList)), crc32c([]byte(validList))); err != nil {
			t.Fatal(err)
		}
	}
	write()
	if e := openCached(path); e == nil || e.ETag != `"e1"` || e.Size != int64(len(validList)) {
		t.Fatalf("a whole entry: %+v", e)
	} else {
		e.file.Close()
	}
	for name, damage := range map[string]func(){
		"a byte changed": func() { f, _ := os.OpenFile(path, os.O_RDWR, 0); f.WriteAt([]byte("X"), 3); f.Close() },
		"cut short":      func() { os.Truncate(path, 20) },
		"empty":          func() { os.Truncate(path, 0) },
		"trailer cut":    func() { fi, _ := os.Stat(path); os.Truncate(path, fi.Size()-1) },
	} {
		write()
		damage()
		if e := openCached(path); e != nil {
			t.Errorf("%s: the entry is used", name)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%s: the entry stays", name)
		}
	}
}

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
