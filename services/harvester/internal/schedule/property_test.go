package schedule

import (
	"math/rand"
	"slices"
	"testing"
	"time"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
)

// Zones for the property tests: hour shifts both hemispheres' ways, a 30-minute shift,
// changes at midnight, a half-hour offset without DST, and UTC.
var propertyZones = []string{
	"Europe/Stockholm", "America/New_York", "Australia/Lord_Howe", "America/Havana",
	"Asia/Kolkata", "UTC",
}

var (
	propFrom = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	propTo   = time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)
)

// transitions lists the instants the zone's offset changes in [from, to).
func transitions(loc *time.Location, from, to time.Time) []time.Time {
	var out []time.Time
	for t := from.In(loc); ; {
		_, end := t.ZoneBounds()
		if end.IsZero() || !end.Before(to) {
			return out
		}
		out = append(out, end)
		t = end
	}
}

// randomAfter picks an instant in [propFrom, propTo), half the time within two days of a
// transition so the DST days are actually exercised; nanoseconds included.
func randomAfter(r *rand.Rand, trans []time.Time) time.Time {
	if len(trans) > 0 && r.Intn(2) == 0 {
		tr := trans[r.Intn(len(trans))]
		return tr.Add(time.Duration(r.Int63n(int64(96*time.Hour))) - 48*time.Hour)
	}
	return propFrom.Add(time.Duration(r.Int63n(int64(propTo.Sub(propFrom)))))
}

// oracle is an independent model of the rules: it steps the zone's wall clock minute by
// minute over [from, to) and records a run when the clock first shows h:m on a local date
// (on the right weekday), or when it jumps over h:m, at the instant it would have shown it
// had it not jumped (the last reading before the jump plus the minutes skipped to h:m).
func oracle(loc *time.Location, from, to time.Time, h, m int, weekday *time.Weekday) []time.Time {
	wall := func(t time.Time) int64 { // the wall clock as minutes, read as if UTC
		w := t.In(loc)
		return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), 0, 0, time.UTC).Unix() / 60
	}
	target := int64(h*60 + m)
	due := func(x int64) bool {
		if x%1440 != target {
			return false
		}
		return weekday == nil || time.Unix(x*60, 0).UTC().Weekday() == *weekday
	}
	fired := map[int64]bool{} // local dates (days since epoch) that have run
	var runs []time.Time
	fire := func(x int64, at time.Time) {
		if d := x / 1440; due(x) && !fired[d] {
			fired[d] = true
			runs = append(runs, at)
		}
	}
	prevT := from.Truncate(time.Minute)
	prev := wall(prevT)
	for t := prevT.Add(time.Minute); t.Before(to); t = t.Add(time.Minute) {
		cur := wall(t)
		if cur > prev {
			for x := prev + 1; x < cur; x++ { // skipped readings
				fire(x, prevT.Add(time.Duration(x-prev)*time.Minute))
			}
		}
		fire(cur, t)
		prevT, prev = t, cur
	}
	slices.SortFunc(runs, func(a, b time.Time) int { return a.Compare(b) })
	return runs
}

// TestNextMatchesOracle: for random `after`, Next(after) is after it and is the first run the
// minute-stepping oracle finds after it (so no run lies between them).
func TestNextMatchesOracle(t *testing.T) {
	r := rand.New(rand.NewSource(20260329))
	type kind struct {
		name    string
		h, m    int
		weekday *time.Weekday
		samples int
		window  time.Duration // how far past `after` the next run can be
	}
	sunday := time.Sunday
	kinds := []kind{
		{"daily 02:30", 2, 30, nil, 80, 27 * time.Hour},
		{"daily 00:30", 0, 30, nil, 40, 27 * time.Hour},
		{"daily 01:45", 1, 45, nil, 40, 27 * time.Hour},
		{"weekly Sunday 02:30", 2, 30, &sunday, 15, 8*24*time.Hour + 3*time.Hour},
	}
	for _, zone := range propertyZones {
		loc := mustLoc(t, zone)
		trans := transitions(loc, propFrom, propTo)
		for _, k := range kinds {
			var sp Spec
			if k.weekday == nil {
				sp = mustParse(t, daily(int32(k.h), int32(k.m), zone))
			} else {
				sp = mustParse(t, weekly(typev1.DayOfWeek_DAY_OF_WEEK_SUNDAY, int32(k.h), int32(k.m), zone))
			}
			for range k.samples {
				after := randomAfter(r, trans)
				next, ok := sp.Next(after)
				if !ok || !next.After(after) {
					t.Fatalf("%s %s: Next(%v) = %v, %v", zone, k.name, after, next, ok)
				}
				// Start the oracle well before `after` so the date of `after` is seen whole.
				runs := oracle(loc, after.Add(-30*time.Hour), after.Add(k.window), k.h, k.m, k.weekday)
				i, _ := slices.BinarySearchFunc(runs, after, func(a, b time.Time) int {
					if a.After(b) {
						return 1
					}
					return -1
				})
				if i == len(runs) {
					t.Fatalf("%s %s: oracle found no run after %v", zone, k.name, after)
				}
				if !runs[i].Equal(next) {
					t.Fatalf("%s %s: Next(%v) = %v, oracle says %v", zone, k.name,
						after.In(loc), next, runs[i].In(loc))
				}
			}
		}
	}
}

// TestIntervalProperty: random `after` (before the epoch too) in several zones; the answer is
// the grid point after it, whatever the zone.
func TestIntervalProperty(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	for _, n := range []int32{1, 5, 7, 13, 60, 90, 1440, 10080} {
		step := time.Duration(n) * time.Minute
		for _, zone := range propertyZones {
			sp := mustParse(t, interval(n, zone))
			for range 200 {
				var after time.Time
				switch r.Intn(4) {
				case 0: // exactly on a grid point
					after = time.Unix(r.Int63n(1<<31)/int64(step.Seconds())*int64(step.Seconds()), 0)
				case 1: // before the epoch
					after = time.Unix(-r.Int63n(1<<31), r.Int63n(1e9))
				default:
					after = randomAfter(r, nil)
				}
				next, ok := sp.Next(after)
				switch {
				case !ok || !next.After(after):
					t.Fatalf("%d min %s: Next(%v) = %v, %v", n, zone, after, next, ok)
				case next.Sub(after) > step:
					t.Fatalf("%d min %s: Next(%v) = %v skips a grid point", n, zone, after, next)
				case next.Unix()%int64(step.Seconds()) != 0 || next.Nanosecond() != 0:
					t.Fatalf("%d min %s: Next(%v) = %v is off the epoch grid", n, zone, after, next)
				case next.Location() != sp.Location():
					t.Fatalf("%d min %s: location %v", n, zone, next.Location())
				}
			}
		}
	}
}

// TestTwoYearsIterated: iterating Next over 2026-2027 is strictly increasing and runs a daily
// schedule exactly once on every local date and a weekly one once in every local week.
func TestTwoYearsIterated(t *testing.T) {
	times := [][2]int32{{0, 0}, {0, 30}, {1, 30}, {2, 0}, {2, 15}, {2, 30}, {3, 0}, {23, 59}}
	for _, zone := range propertyZones {
		loc := mustLoc(t, zone)
		for _, hm := range times {
			for _, isWeekly := range []bool{false, true} {
				var sp Spec
				if isWeekly {
					sp = mustParse(t, weekly(typev1.DayOfWeek_DAY_OF_WEEK_SUNDAY, hm[0], hm[1], zone))
				} else {
					sp = mustParse(t, daily(hm[0], hm[1], zone))
				}
				first := time.Date(2026, 1, 1, 0, 0, 0, 0, loc) // a Thursday
				last := time.Date(2028, 1, 1, 0, 0, 0, 0, loc)
				var prev time.Time
				var dates []string
				for cur := first.Add(-time.Nanosecond); ; { // a run at 00:00 on the first day counts

					next, ok := sp.Next(cur)
					if !ok || !next.After(cur) {
						t.Fatalf("%s: Next(%v) = %v, %v", sp, cur, next, ok)
					}
					if !next.Before(last) {
						break
					}
					if !prev.IsZero() {
						gap := next.Sub(prev)
						want := 24 * time.Hour
						if isWeekly {
							want *= 7
						}
						// Consecutive runs are a day (week) apart, give or take the DST shift.
						if gap < want-time.Hour || gap > want+time.Hour {
							t.Fatalf("%s: runs %v and %v are %v apart", sp, prev, next, gap)
						}
					}
					dates = append(dates, next.In(loc).Format("2006-01-02"))
					prev, cur = next, next
				}
				want := 0
				// Count calendar dates in UTC: local midnight may not exist (Havana).
				for d := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2028; d = d.AddDate(0, 0, 1) {
					if isWeekly && d.Weekday() != time.Sunday {
						continue
					}
					if want >= len(dates) || dates[want] != d.Format("2006-01-02") {
						t.Fatalf("%s: run %d on %v, want one on %s", sp, want, dates[min(want, len(dates)-1)], d.Format("2006-01-02"))
					}
					want++
				}
				if want != len(dates) {
					t.Fatalf("%s: %d runs for %d dates", sp, len(dates), want)
				}
			}
		}
	}
}

// FuzzNoPanic: any schedule message and any instant give an answer or an error, never a
// panic; a valid one's Next is strictly after its input.
func FuzzNoPanic(f *testing.F) {
	f.Add(int8(1), int32(2), int32(30), int32(7), int32(5), "Europe/Stockholm", int64(1774747800), int64(0))
	f.Add(int8(2), int32(24), int32(0), int32(0), int32(0), "Local", int64(-1<<62), int64(999999999))
	f.Add(int8(3), int32(-1), int32(60), int32(9), int32(10081), "Pacific/Apia", int64(1<<62), int64(-5))
	f.Add(int8(0), int32(0), int32(0), int32(0), int32(1), "", int64(-62135596800), int64(0))
	f.Fuzz(func(t *testing.T, kind int8, h, m, day, n int32, tz string, sec, nsec int64) {
		s := &profilesv1.Schedule{TimeZone: tz}
		switch kind % 5 {
		case 1:
			s.Kind = &profilesv1.Schedule_Daily{Daily: &profilesv1.DailySchedule{Time: tod(h, m)}}
		case 2:
			s.Kind = &profilesv1.Schedule_Weekly{Weekly: &profilesv1.WeeklySchedule{Day: typev1.DayOfWeek(day), Time: tod(h, m)}}
		case 3:
			s.Kind = &profilesv1.Schedule_Interval{Interval: &profilesv1.IntervalSchedule{Minutes: n}}
		case 4:
			s.Kind = &profilesv1.Schedule_Daily{} // nil message
		}
		sp, err := Parse(s)
		if err != nil {
			return
		}
		_ = sp.Describe()
		after := time.Unix(sec, nsec)
		if next, ok := sp.Next(after); ok && !next.After(after) {
			t.Fatalf("%s: Next(%v) = %v", sp, after, next)
		}
	})
}
