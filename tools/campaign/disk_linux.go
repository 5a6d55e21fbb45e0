package campaign

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"syscall"
	"unsafe"
)

// The ledger's disk fills up. Without root there is no small tmpfs to fill, so the
// campaign lowers the running ledger's RLIMIT_FSIZE (prlimit(2), as `prlimit --fsize`
// does) to the end of the pages its bbolt file uses now: every write that needs a new
// page past that point fails with EFBIG, exactly where ENOSPC would strike on a full
// disk, in the real binary, with no test hook. Go ignores SIGXFSZ, so the process sees
// the error rather than dying. Pages bbolt already freed inside the file can still be
// reused, so the scenario brings in enough new requests to need more.
func diskFull(_ context.Context, f *faultEnv, _ []string) error {
	file, err := f.c.DataFile(Requests)
	if err != nil {
		return err
	}
	end, err := boltHighWater(file)
	if err != nil {
		return err
	}
	return setFileSizeLimit(f.c.Pid(Requests), end)
}

// diskRoomy lifts the limit again, on the same process: the ledger must recover by
// itself once there is room, with no restart.
func diskRoomy(_ context.Context, f *faultEnv) error {
	if !f.c.Running(Requests) {
		return errors.New("the ledger process died on the full disk")
	}
	return setFileSizeLimit(f.c.Pid(Requests), math.MaxUint64) // RLIM_INFINITY; capped at the hard limit
}

func setFileSizeLimit(pid int, soft uint64) error {
	var cur syscall.Rlimit
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), syscall.RLIMIT_FSIZE, 0, uintptr(unsafe.Pointer(&cur)), 0, 0); e != 0 {
		return fmt.Errorf("prlimit: %w", e)
	}
	lim := syscall.Rlimit{Cur: min(soft, cur.Max), Max: cur.Max}
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), syscall.RLIMIT_FSIZE, uintptr(unsafe.Pointer(&lim)), 0, 0, 0); e != 0 {
		return fmt.Errorf("prlimit: %w", e)
	}
	return nil
}

// boltHighWater reads a bbolt file's two meta pages and returns the byte offset past the
// last page in use (the newer meta's high-water page id times the page size). Layout
// (bbolt's page and meta structs, little-endian on amd64/arm64): a 16-byte page header,
// then magic, version, page size, flags (4 bytes each), the root bucket (16), the
// freelist page id (8), the high-water page id (8), the transaction id (8).
func boltHighWater(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	const magic = 0xED0CDAED
	meta := func(off int) (pgid, txid uint64, pageSize uint32, ok bool) {
		if len(b) < off+16+64 {
			return 0, 0, 0, false
		}
		m := b[off+16:]
		if binary.LittleEndian.Uint32(m[0:]) != magic {
			return 0, 0, 0, false
		}
		return binary.LittleEndian.Uint64(m[40:]), binary.LittleEndian.Uint64(m[48:]), binary.LittleEndian.Uint32(m[8:]), true
	}
	pg0, tx0, size, ok0 := meta(0)
	if !ok0 {
		return 0, fmt.Errorf("%s: not a bbolt file", path)
	}
	pg1, tx1, _, ok1 := meta(int(size))
	if ok1 && tx1 > tx0 {
		pg0 = pg1
	}
	return pg0 * uint64(size), nil
}
