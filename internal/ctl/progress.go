package ctl

import (
	"fmt"
	"io"
	"strings"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
)

// barWidth is the number of cells of the progress bar.
const barWidth = 24

// progress draws a run's progress on the operator's terminal: one line redrawn in place
// on a TTY, and a plain line per change otherwise (a CI log must not fill with
// carriage returns, nor with a copy of the same line per message).
type progress struct {
	w        io.Writer
	tty      bool
	last     string // the last line drawn
	drawn    bool   // a TTY line is open (needs a newline before anything else)
	maxWidth int    // widest TTY line so far, to blank out a longer previous one
}

// show draws r's progress if it changed.
func (p *progress) show(r *harvesterv1.Run) {
	line := progressLine(r)
	if line == p.last {
		return
	}
	p.last = line
	if !p.tty {
		fmt.Fprintln(p.w, line)
		return
	}
	pad := ""
	if n := len([]rune(line)); n < p.maxWidth {
		pad = strings.Repeat(" ", p.maxWidth-n)
	} else {
		p.maxWidth = n
	}
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	p.drawn = true
}

// done ends an open TTY line.
func (p *progress) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

// progressLine is e.g.
// `[##########--------------]  42% RUNNING fetching 2026-11-01..2026-11-07 · fetched 120 created 100 updated 0 unchanged 20 skipped 0 failed 0`.
func progressLine(r *harvesterv1.Run) string {
	pct := int(r.GetProgress().GetPercent())
	if final(r.GetState()) && r.GetState() != harvesterv1.RunState_RUN_STATE_FAILED && r.GetState() != harvesterv1.RunState_RUN_STATE_ABORTED {
		pct = 100
	}
	pct = max(0, min(100, pct))
	filled := pct * barWidth / 100
	c := r.GetCounters()
	var b strings.Builder
	fmt.Fprintf(&b, "[%s%s] %3d%% %s", strings.Repeat("#", filled), strings.Repeat("-", barWidth-filled), pct, enumName(r.GetState()))
	if phase := r.GetProgress().GetPhase(); phase != "" && !final(r.GetState()) {
		b.WriteString(" " + sanitize(phase))
	}
	fmt.Fprintf(&b, " · fetched %d created %d updated %d unchanged %d skipped %d failed %d",
		c.GetFetched(), c.GetCreated(), c.GetUpdated(), c.GetUnchanged(), c.GetSkipped(), c.GetFailed())
	return b.String()
}
