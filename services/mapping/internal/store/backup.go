package store

import (
	"io"

	"github.com/interloan/interloan/platform/boltdb"
)

// Backup writes a consistent snapshot of the data file to w while the store keeps
// serving (BackupService, `interloan backup`).
func (s *Store) Backup(w io.Writer) (int64, error) { return boltdb.Backup(s.db, w) }
