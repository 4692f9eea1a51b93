package sources

import (
	"bufio"
	"context"
	"fmt"
	"os"
)

// A sync keeps what it cannot hold in memory at a fleet's size (raw pages
// a provider must see whole before it translates them, the bodies of the
// hosts it will write) in scratch files: temporary files in the sync's
// scratch directory, removed as soon as they are created where the system
// allows it, so that their space is freed when they are closed, even by a
// crash.

type scratchDirKey struct{}

// WithScratchDir returns ctx carrying the directory scratch files of the
// work done under it go in.
func WithScratchDir(ctx context.Context, dir string) context.Context {
	return context.WithValue(ctx, scratchDirKey{}, dir)
}

// ScratchDir returns the scratch directory ctx carries, or the system's
// temporary directory.
func ScratchDir(ctx context.Context) string {
	if dir, _ := ctx.Value(scratchDirKey{}).(string); dir != "" {
		return dir
	}
	return os.TempDir()
}

// Scratch is an append-only scratch file: records are appended and read
// back by their Extent. It is created on the first Append. Not safe for
// concurrent use.
type Scratch struct {
	dir     string
	f       *os.File
	w       *bufio.Writer
	size    int64
	removed bool
}

// Extent is where a record is in a Scratch.
type Extent struct {
	Off int64
	Len int
}

// NewScratch returns a scratch file to be created in dir (the system's
// temporary directory when empty, as os.CreateTemp does).
func NewScratch(dir string) *Scratch { return &Scratch{dir: dir} }

// Append writes b as a new record.
func (s *Scratch) Append(b []byte) (Extent, error) {
	if s.f == nil {
		f, err := os.CreateTemp(s.dir, "roster-sync-*.scratch")
		if err != nil {
			return Extent{}, fmt.Errorf("keep the sync's work on disk: %w", err)
		}
		s.f, s.w = f, bufio.NewWriterSize(f, 256<<10)
		s.removed = os.Remove(f.Name()) == nil
	}
	if _, err := s.w.Write(b); err != nil {
		return Extent{}, fmt.Errorf("keep the sync's work on disk (%s): %w", s.dir, err)
	}
	e := Extent{Off: s.size, Len: len(b)}
	s.size += int64(len(b))
	return e, nil
}

// Read returns the record at e, in buf when it is large enough.
func (s *Scratch) Read(e Extent, buf []byte) ([]byte, error) {
	if s.f == nil {
		return nil, fmt.Errorf("read back the sync's work: nothing was kept")
	}
	if err := s.w.Flush(); err != nil {
		return nil, fmt.Errorf("keep the sync's work on disk (%s): %w", s.dir, err)
	}
	if cap(buf) < e.Len {
		buf = make([]byte, e.Len)
	}
	buf = buf[:e.Len]
	if _, err := s.f.ReadAt(buf, e.Off); err != nil {
		return nil, fmt.Errorf("read back the sync's work: %w", err)
	}
	return buf, nil
}

// Close releases the file; it is removed if it was not already.
func (s *Scratch) Close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	if !s.removed {
		if rerr := os.Remove(s.f.Name()); rerr != nil && err == nil {
			err = rerr
		}
	}
	s.f, s.w = nil, nil
	return err
}
