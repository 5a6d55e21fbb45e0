package ctl

import (
	"fmt"
	"io"
	"strings"
	"time"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
)

// barWidth is the number of cells of the progress bar.
const barWidth = 24

// plainEvery is how often a log (not a terminal) gets a line while a phase goes on and
// its counters move; a phase change always gets one at once.
const plainEvery = 5 * time.Second

// progress draws a run's progress, phase by phase: the window's chunks (Progress.percent
// is the share of the window fetched), then the inbox, the retry set and the refresh of
// open requests, which have no share of the window and show what they handled instead.
// On a terminal one line is redrawn in place; a log (a pipe, a file, CI) gets a plain
// line per phase or state change, and otherwise at most one per plainEvery, so a long
// refresh does not fill it.
type progress struct {
	w        io.Writer
	tty      bool
	now      func() time.Time // time.Now unless a test says otherwise
	last     string           // the last line seen
	lastKey  string           // state and phase of the last line written to a log
	lastAt   time.Time        // when it was written
	held     string           // a log's line held back by the throttle
	drawn    bool             // a TTY line is open (needs a newline before anything else)
	maxWidth int              // widest TTY line so far, to blank out a longer previous one
}

// show draws r's progress if it changed.
func (p *progress) show(r *harvesterv1.Run) {
	line := progressLine(r)
	if line == p.last {
		return
	}
	p.last = line
	if !p.tty {
		now := time.Now
		if p.now != nil {
			now = p.now
		}
		key := enumName(r.GetState()) + " " + r.GetProgress().GetPhase()
		if key == p.lastKey && now().Sub(p.lastAt) < plainEvery {
			p.held = line
			return
		}
		p.lastKey, p.lastAt, p.held = key, now(), ""
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

// done ends an open TTY line, or gives a log the line the throttle held back, so both
// end on the last state seen.
func (p *progress) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
	if p.held != "" {
		fmt.Fprintln(p.w, p.held)
		p.held = ""
	}
}

// progressLine is e.g.
// `[##########--------------]  42% RUNNING fetching 2026-11-01..2026-11-07 · fetched 120 created 100 …`
// while the window is fetched, and
// `[########################] window done · RUNNING refreshing open requests (handled 230) · fetched 230 …`
// after it.
func progressLine(r *harvesterv1.Run) string {
	pr := r.GetProgress()
	state := r.GetState()
	phase := pr.GetPhase()
	pct := int(pr.GetPercent())
	if final(state) && state != harvesterv1.RunState_RUN_STATE_FAILED && state != harvesterv1.RunState_RUN_STATE_ABORTED {
		pct = 100
	}
	pct = max(0, min(100, pct))
	var b strings.Builder
	switch kind := phaseKind(phase); {
	case !final(state) && kind == phaseAfterWindow:
		fmt.Fprintf(&b, "[%s] window done · %s %s", strings.Repeat("#", barWidth), enumName(state), sanitize(phase))
		switch {
		case strings.Contains(phase, " of "):
			// The phase counts its own requests ("refreshing open requests: 3 of 200").
		case pr.GetTotal() > 0:
			fmt.Fprintf(&b, " (%d of %d)", pr.GetHandled(), pr.GetTotal())
		default:
			fmt.Fprintf(&b, " (handled %d)", pr.GetHandled())
		}
	default:
		filled := pct * barWidth / 100
		fmt.Fprintf(&b, "[%s%s] %3d%% %s", strings.Repeat("#", filled), strings.Repeat("-", barWidth-filled), pct, enumName(state))
		if phase != "" && !final(state) {
			b.WriteString(" " + sanitize(phase))
		}
	}
	c := r.GetCounters()
	fmt.Fprintf(&b, " · fetched %d created %d updated %d unchanged %d skipped %d failed %d",
		c.GetFetched(), c.GetCreated(), c.GetUpdated(), c.GetUnchanged(), c.GetSkipped(), c.GetFailed())
	return b.String()
}

// The harvester's phases: before the window (pending, pre-checks), the window's chunks
// (fetching A..B), and after it (draining the inbox, retrying, refreshing, done).
const (
	phaseBeforeWindow = iota
	phaseWindow
	phaseAfterWindow
)

func phaseKind(phase string) int {
	switch {
	case strings.HasPrefix(phase, "fetching"):
		return phaseWindow
	case strings.HasPrefix(phase, "draining"), strings.HasPrefix(phase, "retrying"), strings.HasPrefix(phase, "refreshing"), phase == "done":
		return phaseAfterWindow
	}
	return phaseBeforeWindow
}
