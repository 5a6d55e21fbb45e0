// Package schedule turns a profile's Schedule into due instants: it tells the scheduler
// when a profile's import job runs next and says the schedule in words for staff
// (ListScheduledJobs). It is pure: no clock, no I/O; callers pass the instant to count from.
//
// # The contract
//
// Kinds: none (never due), daily at a time, weekly on an ISO day at a time, and every N
// minutes (1..10080). Next(after) is always the first due instant strictly after `after`,
// so iterating t = Next(t) visits every run exactly once, in strictly increasing order.
//
// Daily and weekly times are wall-clock times in the schedule's time zone (IANA; empty
// means UTC). On the day of a daylight-saving change the wall time may not exist or may
// exist twice; the job still runs exactly once that day:
//
//   - Spring forward (the time is skipped, e.g. 02:30 in Europe/Stockholm on 2026-03-29,
//     when clocks jump 02:00 -> 03:00): it runs at the instant the wall clock would have
//     shown that time had it not jumped, i.e. the time read with the offset in force before
//     the jump: 02:30 CET = 01:30 UTC = 03:30 CEST. So 02:00, the first skipped minute,
//     runs at the jump itself (03:00 CEST), the same instant as a 03:00 schedule that day.
//     In America/New_York on 2026-03-08, 02:30 runs at 03:30 EDT (07:30 UTC).
//   - Fall back (the time occurs twice, e.g. 02:30 in Europe/Stockholm on 2026-10-25, when
//     clocks go back 03:00 -> 02:00): it runs at the first occurrence only, 02:30 CEST
//     (00:30 UTC); the repeat an hour later is not a run.
//
// The same rules hold for weekly schedules on their day and for zones whose shift is not
// an hour (Australia/Lord_Howe moves by 30 minutes). A date the zone skips entirely
// (Pacific/Apia, 2011-12-30, -10 -> +14) has its time read before the jump, which is the
// same instant as that time on the next date: the two coincide and run once. These rules are computed here from the zone's transitions,
// not left to time.Date, whose choice in gaps and overlaps is unspecified (and in fact
// differs between Stockholm and New York).
//
// Interval schedules count elapsed time and ignore the zone and DST: runs are at the
// multiples of N minutes since the Unix epoch (1970-01-01T00:00Z), so a restart does not
// shift the grid and two harvesters agree. Next(after) is the next grid point strictly
// after `after` (an `after` exactly on a grid point gives the following one).
//
// Next answers for `after` in years 1 through 9999 (the zero time.Time is in range) and
// reports ok=false outside it, as for an unscheduled profile; it never panics.
//
// The package links time/tzdata so a zone the profiles service accepted (it embeds the
// same data) also loads here on a host without zoneinfo.
package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // zones must load on hosts without zoneinfo, as in the profiles service

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
)

// MaxIntervalMinutes is the longest interval, one week (as the profiles API validates).
const MaxIntervalMinutes = 10080

// ErrInvalid is wrapped by every Parse error, so callers can tell a bad schedule from
// other failures with errors.Is.
var ErrInvalid = errors.New("invalid schedule")

// Kind is the kind of schedule.
type Kind int

// The zero Kind is None so that the zero Spec is "not scheduled".
const (
	None Kind = iota
	Daily
	Weekly
	Interval
)

// Spec is a parsed, validated schedule. The zero Spec is not scheduled.
type Spec struct {
	kind     Kind
	hour     int
	minute   int
	weekday  time.Weekday // Weekly only
	interval int          // minutes; Interval only
	loc      *time.Location
}

// Parse validates s. A nil schedule, one with no kind and the none kind give a Spec that
// is not scheduled: its Next reports ok=false. Every problem found is reported in the one
// error.
func Parse(s *profilesv1.Schedule) (Spec, error) {
	var sp Spec
	var problems []string
	sp.loc = time.UTC
	if tz := s.GetTimeZone(); tz != "" {
		// "Local" would make the schedule depend on the host; the profiles API rejects it too.
		loc, err := time.LoadLocation(tz)
		if err != nil || tz == "Local" {
			problems = append(problems, fmt.Sprintf("time_zone %q is not an IANA time zone such as Europe/Stockholm", tz))
		} else {
			sp.loc = loc
		}
	}
	switch k := s.GetKind().(type) {
	case *profilesv1.Schedule_Daily:
		sp.kind = Daily
		problems = sp.setTime(problems, "daily.time", k.Daily.GetTime())
	case *profilesv1.Schedule_Weekly:
		sp.kind = Weekly
		d := k.Weekly.GetDay()
		if d < typev1.DayOfWeek_DAY_OF_WEEK_MONDAY || d > typev1.DayOfWeek_DAY_OF_WEEK_SUNDAY {
			problems = append(problems, fmt.Sprintf("weekly.day must be a day of the week, Monday to Sunday (got %v)", d))
		} else {
			sp.weekday = time.Weekday(int(d) % 7) // ISO Sunday=7 is time.Sunday=0
		}
		problems = sp.setTime(problems, "weekly.time", k.Weekly.GetTime())
	case *profilesv1.Schedule_Interval:
		sp.kind = Interval
		m := k.Interval.GetMinutes()
		if m < 1 || m > MaxIntervalMinutes {
			problems = append(problems, fmt.Sprintf("interval.minutes must be between 1 and %d (got %d)", MaxIntervalMinutes, m))
		}
		sp.interval = int(m)
	default: // nil schedule, no kind, or none
		sp.kind = None
	}
	if len(problems) > 0 {
		return Spec{}, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(problems, "; "))
	}
	return sp, nil
}

func (s *Spec) setTime(problems []string, field string, t *typev1.TimeOfDay) []string {
	switch {
	case t == nil:
		return append(problems, field+" is required")
	case t.GetHours() < 0 || t.GetHours() > 23 || t.GetMinutes() < 0 || t.GetMinutes() > 59:
		return append(problems, fmt.Sprintf("%s must be a time of day, 00:00-23:59 (got hours %d, minutes %d)", field, t.GetHours(), t.GetMinutes()))
	}
	s.hour, s.minute = int(t.GetHours()), int(t.GetMinutes())
	return problems
}

// Location is the schedule's time zone: UTC when none was given (and for the zero Spec).
// Next returns instants in it.
func (s Spec) Location() *time.Location {
	if s.loc == nil {
		return time.UTC
	}
	return s.loc
}

// Years Next answers for; beyond them date arithmetic would need care for no real use.
const minYear, maxYear = 1, 9999

// Next returns the first due instant strictly after `after`, in Location(). ok is false
// when not scheduled, and when `after` is outside years 1..9999.
func (s Spec) Next(after time.Time) (next time.Time, ok bool) {
	if y := after.UTC().Year(); y < minYear || y > maxYear {
		return time.Time{}, false
	}
	loc := s.Location()
	switch s.kind {
	case Interval:
		if s.interval < 1 { // only a hand-built Spec; Parse never makes one
			return time.Time{}, false
		}
		step := int64(s.interval) * 60
		sec := after.Unix()
		q := sec / step
		if sec%step < 0 { // floor, not truncation, before the epoch
			q--
		}
		// Even with nanoseconds past a grid point, (q+1)*step is strictly after.
		return time.Unix((q+1)*step, 0).In(loc), true
	case Daily, Weekly:
		// Occurrences are ordered as their local dates, so the first local date (from the
		// day before `after`'s, for zones whose gaps push a run past midnight) whose
		// occurrence is after `after` gives the answer; two weeks covers any skipped day.
		y, m, d := after.In(loc).Date()
		for k := -1; k <= 15; k++ {
			day := time.Date(y, m, d+k, 0, 0, 0, 0, time.UTC) // normalised calendar date
			if s.kind == Weekly && day.Weekday() != s.weekday {
				continue
			}
			if t := wallTime(day.Year(), day.Month(), day.Day(), s.hour, s.minute, loc); t.After(after) {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// span bounds the instants whose wall clock can show a given local time: no offset, LMT
// included, has reached 16 hours; 26 leaves room to see the transition before a gap.
const span = 26 * 60 * 60

// wallTime is the instant the job runs for local date y-m-d at h:min in loc: the first
// instant the wall clock shows it or, when it is skipped, the instant it would have shown
// it had it not jumped (read with the offset before the jump).
func wallTime(y int, m time.Month, d, h, min int, loc *time.Location) time.Time {
	naive := time.Date(y, m, d, h, min, 0, 0, time.UTC).Unix() // the wall time read as UTC
	// Walk the zone's periods (constant offset) in time order over the window; the first
	// period containing naive-offset is the earliest occurrence.
	cur := time.Unix(naive-span, 0).In(loc)
	prevOff, havePrev := 0, false
	for range 64 { // a handful of periods at most; the bound only guards against a loop
		_, off := cur.Zone()
		start, end := cur.ZoneBounds()
		if havePrev && !start.IsZero() {
			// A gap: the clock jumped from start+prevOff to start+off over our wall time.
			if t := start.Unix(); t+int64(prevOff) <= naive && naive < t+int64(off) {
				return time.Unix(naive-int64(prevOff), 0).In(loc)
			}
		}
		if c := naive - int64(off); (start.IsZero() || c >= start.Unix()) && (end.IsZero() || c < end.Unix()) {
			return time.Unix(c, 0).In(loc)
		}
		if end.IsZero() || end.Unix() > naive+span {
			break
		}
		prevOff, havePrev = off, true
		cur = end.In(loc)
	}
	// Unreachable for real zone data; time.Date's own choice is still a single instant.
	return time.Date(y, m, d, h, min, 0, 0, loc)
}

// Describe is the schedule in words for staff, e.g. "Not scheduled", "Daily at 02:30
// (Europe/Stockholm)", "Weekly on Monday at 06:00 (UTC)", "Every 5 minutes",
// "Every 2 hours", "Every 7 days". Intervals name no zone: they do not depend on one.
func (s Spec) Describe() string {
	switch s.kind {
	case Daily:
		return fmt.Sprintf("Daily at %02d:%02d (%s)", s.hour, s.minute, s.Location())
	case Weekly:
		return fmt.Sprintf("Weekly on %s at %02d:%02d (%s)", s.weekday, s.hour, s.minute, s.Location())
	case Interval:
		n := s.interval
		switch {
		case n == 1:
			return "Every minute"
		case n == 60:
			return "Every hour"
		case n > 1440 && n%1440 == 0:
			return fmt.Sprintf("Every %d days", n/1440)
		case n%60 == 0:
			return fmt.Sprintf("Every %d hours", n/60) // 1440 reads "Every 24 hours": elapsed, not calendar days
		default:
			return fmt.Sprintf("Every %d minutes", n)
		}
	}
	return "Not scheduled"
}

// String is Describe, for logs.
func (s Spec) String() string { return s.Describe() }

// Period is the nominal time between two due instants: 24 hours for daily, 7 days for
// weekly (an hour more or less across a daylight-saving change), N minutes for an
// interval; 0 when not scheduled. Alerts measure staleness in periods.
func (s Spec) Period() time.Duration {
	switch s.kind {
	case Daily:
		return 24 * time.Hour
	case Weekly:
		return 7 * 24 * time.Hour
	case Interval:
		return time.Duration(s.interval) * time.Minute
	}
	return 0
}
