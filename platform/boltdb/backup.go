package boltdb

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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

// Restore replaces the data file at path with the backup read from src, for a service
// that is stopped, once verify has proven a copy of the backup made in a temporary
// directory beside path (interloan restore runs Verify on it in a child process, so
// that damage which crashes the check cannot take the restore down). Any error leaves
// path as it was. An existing file is refused unless force is set; then it is kept
// beside the new one as path.before-restore-<time>. A file still locked by a running
// service is always refused.
func Restore(path string, src io.Reader, verify func(candidate string) error, force bool) (int64, error) {
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
			return errors.New("refused, nothing changed: the backup is empty")
		}
		// The check opens its own copy, which the service's open may upgrade: what
		// replaces path is the backup as it was taken.
		dir, err := os.MkdirTemp(filepath.Dir(path), "."+filepath.Base(path)+".check-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		candidate := filepath.Join(dir, filepath.Base(path))
		if err := copyFile(tmp, candidate); err != nil {
			return err
		}
		if err := verify(candidate); err != nil {
			return fmt.Errorf("refused, nothing changed: %w", err)
		}
		if _, err := os.Stat(path); err == nil {
			return os.Rename(path, path+".before-restore-"+time.Now().UTC().Format("20060102T150405.000000000Z"))
		}
		return nil
	})
}

// ErrDamaged is returned by Verify for a file that is not structurally sound.
var ErrDamaged = errors.New("damaged")

// Verify proves that the bbolt file at path is sound and that open (the service's own
// store, which refuses another service's file and a newer schema, and upgrades an older
// one) accepts it. It first opens the file read-only and runs bbolt's full consistency
// check, which walks every page reachable from the root and requires every page below
// the high-water mark to be reachable or free. bbolt reads through a memory map and
// trusts what it finds, so damage can crash the check rather than fail it (a page past
// the end of a truncated file is SIGBUS, a garbled page header a panic): run Verify in
// a process of its own, whose death means the file is damaged.
func Verify(path string, open func(path string) (io.Closer, error)) error {
	if err := check(path); err != nil {
		return err
	}
	st, err := open(path)
	if err != nil {
		return err
	}
	return st.Close()
}

// maxCheckErrors is how many consistency errors Verify reports; the rest are counted.
const maxCheckErrors = 5

func check(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("%s is %w: %w", path, ErrDamaged, err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		if tx.Size() > fi.Size() { // checked first: reading past the end is SIGBUS
			return fmt.Errorf("%s is %w: its pages reach byte %d, the file ends at %d", path, ErrDamaged, tx.Size(), fi.Size())
		}
		var problems []string
		n := 0
		for err := range tx.Check() { // drained to the end: the checker stops when the channel closes
			if n++; n <= maxCheckErrors {
				problems = append(problems, err.Error())
			}
		}
		if n == 0 {
			return nil
		}
		if n > maxCheckErrors {
			problems = append(problems, fmt.Sprintf("and %d more", n-maxCheckErrors))
		}
		return fmt.Errorf("%s is %w: %s", path, ErrDamaged, strings.Join(problems, "; "))
	})
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	return err
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
