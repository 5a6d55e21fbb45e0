package campaign

import (
	"context"
	"errors"
	"fmt"
	"math"
	"syscall"
	"unsafe"

	"github.com/interloan/interloan/platform/boltdb"
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
	end, err := boltdb.HighWater(file)
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
