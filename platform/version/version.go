// Package version says which build of Interloan is running, from the module and VCS
// information the Go toolchain stamps into every binary (runtime/debug.ReadBuildInfo).
// It is the one reader of that information: the CLI's `interloan version` and the
// telemetry resource (service.version on spans and target_info) both ask here.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Info describes a build.
type Info struct {
	// Version is the main module's version, "devel" for a build from a work tree.
	Version string `json:"version"`
	// Revision is the VCS revision the binary was built from; empty when the build
	// carried none (go run, tests, -buildvcs=false).
	Revision string `json:"revision,omitempty"`
	// Time is the revision's commit time (RFC 3339), when known.
	Time string `json:"time,omitempty"`
	// Modified reports a build from a work tree with uncommitted changes.
	Modified bool `json:"modified,omitempty"`
	// GoVersion is the toolchain that built the binary.
	GoVersion string `json:"goVersion"`
}

// Get reads the running binary's build information.
func Get() Info {
	info := Info{Version: "devel", GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	return fromBuildInfo(bi)
}

func fromBuildInfo(bi *debug.BuildInfo) Info {
	info := Info{Version: "devel", GoVersion: bi.GoVersion}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		info.Version = v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// String is one line, e.g. `v1.2.0 (revision 0123abcd…, 2026-11-30T10:00:00Z, modified; go1.26.8)`.
func (i Info) String() string {
	var parts []string
	if i.Revision != "" {
		parts = append(parts, "revision "+i.Revision)
	}
	if i.Time != "" {
		parts = append(parts, i.Time)
	}
	if i.Modified {
		parts = append(parts, "modified")
	}
	detail := strings.Join(parts, ", ")
	if detail != "" {
		detail += "; "
	}
	return fmt.Sprintf("%s (%s%s)", i.Version, detail, i.GoVersion)
}
