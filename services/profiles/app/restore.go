package app

import (
	"io"
	"path/filepath"

	"github.com/interloan/interloan/platform/boltdb"
	"github.com/interloan/interloan/services/profiles/internal/store"
)

// DataFile is the service's bbolt file in its data directory.
const DataFile = "profiles.db"

// Restore replaces DataDir/DataFile with a backup read from src (from BackupService or
// `interloan backup`) while the service is stopped, once verify (Verify, run in a
// process of its own) has proven a copy of it; force replaces an existing file, which is
// kept beside it.
func Restore(dataDir string, src io.Reader, verify func(path string) error, force bool) (int64, error) {
	return boltdb.Restore(filepath.Join(dataDir, DataFile), src, verify, force)
}

// Verify proves that the file at path is a sound profiles data file that this binary
// opens (boltdb.Verify); it may upgrade the file. Damage can crash it: run it in a
// process of its own.
func Verify(path string) error {
	return boltdb.Verify(path, func(path string) (io.Closer, error) { return store.Open(path) })
}
