//go:build unix

package store

import (
	"io/fs"
	"syscall"
)

// canWrite asks whether this process may write the file at path.
func canWrite(path string) error {
	const wOK = 2 // access(2)'s W_OK
	if err := syscall.Access(path, wOK); err != nil {
		return &fs.PathError{Op: "access", Path: path, Err: err}
	}
	return nil
}
