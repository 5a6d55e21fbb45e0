// Package atomicfile replaces a file so that a reader, or a crash, sees the old content or
// the new, never a part: the new content is written to a temporary file beside the
// target, synced, checked, renamed over it, and the directory synced.
package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write writes src to path with mode (the directory is created 0700 if missing) and
// returns the bytes written. beforeReplace, when set, sees the complete temporary file
// before it replaces path; an error from it leaves path as it was.
func Write(path string, src io.Reader, mode os.FileMode, beforeReplace func(tmp string, size int64) error) (int64, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	n, err := writeSynced(tmp, src, mode)
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	if beforeReplace != nil {
		if err := beforeReplace(tmp.Name(), n); err != nil {
			return 0, err
		}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return 0, err
	}
	return n, syncDir(dir)
}

func writeSynced(f *os.File, src io.Reader, mode os.FileMode) (int64, error) {
	err := f.Chmod(mode)
	var n int64
	if err == nil {
		n, err = io.Copy(f, src)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
