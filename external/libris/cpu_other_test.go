//go:build !unix

package libris

import "time"

// processCPU is not measured here; benchmarks then report 0 CPU per item.
func processCPU() time.Duration { return 0 }
