package app

import (
	"io"
	"path/filepath"

	"github.com/interloan/interloan/platform/boltdb"
	"github.com/interloan/interloan/services/profiles/internal/store"
)

// DataFile is the service's bbolt file in its data directory.
const DataFile = "profiles.db"

// Restore replaces DataDir/DataFile with a snapshot read from src (from BackupService or
// `interloan backup`) while the service is stopped. The snapshot must open as this
// service's store (a newer schema or a foreign file is refused) before it replaces
// anything; force replaces an existing file, which is kept beside it.
func Restore(dataDir string, src io.Reader, force bool) (int64, error) {
	return boltdb.Restore(filepath.Join(dataDir, DataFile), src, func(path string) (io.Closer, error) { return store.Open(path) }, force)
}
