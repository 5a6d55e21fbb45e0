package boltdb

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/interloan/interloan/platform/atomicfile"
)

// Backup writes a consistent copy of db to w from one read transaction: the copy is the
// database as of the transaction's start, and writers carry on meanwhile — unless the
// file must grow its memory map, which waits for every read transaction to end. So w
// must be quick (a local file: backup.Service spools there), never a remote client.
func Backup(db *bolt.DB, w io.Writer) (int64, error) {
	var n int64
	err := db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// Restore replaces the data file at path with the snapshot read from src, for a service
// that is stopped. The snapshot is written next to path and opened with open (the
// service's own store, which refuses a foreign file or a newer schema) before it is
// renamed into place, so a bad snapshot changes nothing. An existing file is refused unless force
// is set; then it is kept beside the new one as path.before-restore-<time>. A file still
// locked by a running service is always refused.
func Restore(path string, src io.Reader, open func(path string) (io.Closer, error), force bool) (int64, error) {
	if _, err := os.Stat(path); err == nil {
		if !force {
			return 0, fmt.Errorf("%s exists: restore into an empty data directory, or pass --force to replace it (the old file is kept)", path)
		}
		if err := notInUse(path); err != nil {
			return 0, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	return atomicfile.Write(path, src, 0o600, func(tmp string, size int64) error {
		if size == 0 {
			return errors.New("the snapshot is empty")
		}
		st, err := open(tmp)
		if err == nil {
			err = st.Close()
		}
		if err != nil {
			return fmt.Errorf("the snapshot is not a usable data file: %w", err)
		}
		if _, err := os.Stat(path); err == nil {
			return os.Rename(path, path+".before-restore-"+time.Now().UTC().Format("20060102T150405.000000000Z"))
		}
		return nil
	})
}

// notInUse fails when another process holds path's bbolt lock (a running service).
func notInUse(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return fmt.Errorf("%s is in use: stop the service before restoring", path)
	}
	if err != nil {
		return nil // a damaged file is what a restore is for
	}
	return db.Close()
}
