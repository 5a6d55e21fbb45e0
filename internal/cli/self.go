package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// selfCommand is how a person runs this program in the commands it prints, so that every
// printed line works as printed: "interloan" when that name on PATH is this binary, "go run
// ./cmd/interloan" when `go run` built it (into a go-build temporary directory), else the
// binary's own path.
func selfCommand() string {
	exe, err := os.Executable()
	if err != nil {
		return "go run ./cmd/interloan"
	}
	return selfCommandOf(exe, exec.LookPath)
}

func selfCommandOf(exe string, lookPath func(string) (string, error)) string {
	if strings.Contains(filepath.ToSlash(exe), "/go-build") {
		return "go run ./cmd/interloan"
	}
	if onPath, err := lookPath("interloan"); err == nil && sameFile(onPath, exe) {
		return "interloan"
	}
	return exe
}

func sameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}
