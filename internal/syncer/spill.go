package syncer

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/rosterhq/roster"
)

// spill keeps the bodies (groups and vars) of a run's new and changed
// hosts in a file until the run's changes are written, so that a sync
// holds in memory what it is building and a few bytes per host, whatever
// the fleet's size (issue 14: 100,000 hosts' vars are ≈200 MB).
//
// The file is removed as soon as it is created where the system allows
// it (its space is freed when it is closed, even by a crash), otherwise
// when it is closed. Hosts are appended by the scopes' goroutines and read
// back by the store a batch at a time (roster.HostChanges.Batches).
type spill struct {
	dir     string
	mu      sync.Mutex
	f       *os.File
	w       *bufio.Writer
	size    int64
	at      map[*roster.Host]extent
	removed bool
	buf     []byte
}

// extent is where a host's body is in the file.
type extent struct {
	off int64
	n   int
}

// newSpill returns a spill whose file is created in dir (the system's
// temporary directory when empty) on the first host kept.
func newSpill(dir string) *spill {
	if dir == "" {
		dir = os.TempDir()
	}
	return &spill{dir: dir, at: make(map[*roster.Host]extent)}
}

// keep writes h's groups and vars to the file and lets them go from h.
// Safe for concurrent use.
func (s *spill) keep(h *roster.Host) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		f, err := os.CreateTemp(s.dir, "roster-sync-*.spill")
		if err != nil {
			return fmt.Errorf("keep the sync's hosts on disk: %w", err)
		}
		s.f, s.w = f, bufio.NewWriterSize(f, 256<<10)
		s.removed = os.Remove(f.Name()) == nil
	}
	b := s.buf[:0]
	b = binary.AppendUvarint(b, uint64(len(h.Groups)))
	for _, g := range h.Groups {
		b = binary.AppendUvarint(b, uint64(len(g)))
		b = append(b, g...)
	}
	b = append(b, h.Vars...)
	s.buf = b
	if _, err := s.w.Write(b); err != nil {
		return fmt.Errorf("keep the sync's hosts on disk (%s): %w", s.dir, err)
	}
	s.at[h] = extent{off: s.size, n: len(b)}
	s.size += int64(len(b))
	h.Groups, h.Vars = nil, nil
	return nil
}

// Load implements roster.HostBodies: it fills in the groups and vars of
// hosts kept in the file; others are left as they are.
func (s *spill) Load(hosts []*roster.Host) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w != nil {
		if err := s.w.Flush(); err != nil {
			return fmt.Errorf("keep the sync's hosts on disk (%s): %w", s.dir, err)
		}
	}
	for _, h := range hosts {
		e, ok := s.at[h]
		if !ok {
			continue
		}
		b := make([]byte, e.n)
		if _, err := s.f.ReadAt(b, e.off); err != nil {
			return fmt.Errorf("read back the sync's hosts: %w", err)
		}
		if err := decodeBody(h, b); err != nil {
			return fmt.Errorf("read back host %s: %w", h.ExternalID, err)
		}
	}
	return nil
}

// decodeBody sets h's groups and vars from b, as keep wrote them: the
// number of groups, each group's length and bytes, then the vars. The
// vars alias b.
func decodeBody(h *roster.Host, b []byte) error {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return errors.New("corrupt body")
	}
	b = b[k:]
	groups := make([]string, n)
	for i := range groups {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return errors.New("corrupt body")
		}
		groups[i] = string(b[k : k+int(l)])
		b = b[k+int(l):]
	}
	h.Groups, h.Vars = groups, b
	return nil
}

// Close releases the file; it is removed if it was not already.
func (s *spill) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	if !s.removed {
		if rerr := os.Remove(s.f.Name()); rerr != nil && err == nil {
			err = rerr
		}
	}
	s.f, s.w, s.at = nil, nil, nil
	return err
}
