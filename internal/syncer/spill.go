package syncer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources"
)

// spill keeps the bodies (groups and vars) of a run's new and changed
// hosts in a file until the run's changes are written, so that a sync
// holds in memory what it is building and a few bytes per host, whatever
// the fleet's size (issue 14: 100,000 hosts' vars are ≈200 MB).
//
// The file is a sources.Scratch, unlinked from the start. Hosts are
// appended by the scopes' goroutines and read back by the store a batch
// at a time (roster.HostChanges.Batches).
type spill struct {
	mu   sync.Mutex
	file *sources.Scratch
	at   map[*roster.Host]sources.Extent
	buf  []byte
}

// newSpill returns a spill whose file is created in dir (the system's
// temporary directory when empty) on the first host kept.
func newSpill(dir string) *spill {
	return &spill{file: sources.NewScratch(dir), at: make(map[*roster.Host]sources.Extent)}
}

// keep writes h's groups and vars to the file and lets them go from h.
// Safe for concurrent use.
func (s *spill) keep(h *roster.Host) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buf[:0]
	b = binary.AppendUvarint(b, uint64(len(h.Groups)))
	for _, g := range h.Groups {
		b = binary.AppendUvarint(b, uint64(len(g)))
		b = append(b, g...)
	}
	b = append(b, h.Vars...)
	s.buf = b
	e, err := s.file.Append(b)
	if err != nil {
		return err
	}
	s.at[h] = e
	h.Groups, h.Vars = nil, nil
	return nil
}

// Load implements roster.HostBodies: it fills in the groups and vars of
// hosts kept in the file; others are left as they are.
func (s *spill) Load(hosts []*roster.Host) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range hosts {
		e, ok := s.at[h]
		if !ok {
			continue
		}
		b, err := s.file.Read(e, nil)
		if err != nil {
			return err
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

// Close releases the file.
func (s *spill) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at = nil
	return s.file.Close()
}
