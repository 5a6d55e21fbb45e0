//go:build !linux

package campaign

import (
	"context"
	"errors"
)

var errNoDiskFull = errors.New("the disk-full scenario needs Linux (prlimit RLIMIT_FSIZE)")

func diskFull(context.Context, *faultEnv, []string) error { return errNoDiskFull }

func diskRoomy(context.Context, *faultEnv) error { return errNoDiskFull }
