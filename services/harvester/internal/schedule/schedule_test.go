package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // tests must not depend on the machine's zoneinfo

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
)

func tod(h, m int32) *typev1.TimeOfDay { return &typev1.TimeOfDay{Hours: h, Minutes: m} }

func daily(h, m int32, tz string) *profilesv1.Schedule {
	return &profilesv1.Schedule{TimeZone: tz, Kind: &profilesv1.Schedule_Daily{Daily: &profilesv1.DailySchedule{Time: tod(h, m)}}}
}

func weekly(d typev1.DayOfWeek, h, m int32, tz string) *profilesv1.Schedule {
	return &profilesv1.Schedule{TimeZone: tz, Kind: &profilesv1.Schedule_Weekly{Weekly: &profilesv1.WeeklySchedule{Day: d, Time: tod(h, m)}}}
}

func interval(n int32, tz string) *profilesv1.Schedule {
	return &profilesv1.Schedule{TimeZone: tz, Kind: &profilesv1.Schedule_Interval{Interval: &profilesv1.IntervalSchedule{Minutes: n}}}
}

func mustParse(t *testing.T, s *profilesv1.Schedule) Spec {
	t.Helper()
	sp, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%v): %v", s, err)
	}
	return sp
}

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// scheduled reports whether sp ever makes a job due, as the scheduler sees it: Next answers.
func scheduled(sp Spec) bool {
	_, ok := sp.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	return ok
}

// utc parses an RFC 3339 instant; tables state expected instants in UTC so there is no doubt.
func utc(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParse(t *testing.T) {
	const sthlm = "Europe/Stockholm"
	valid := []struct {
		name      string
		in        *profilesv1.Schedule
		kind      Kind
		scheduled bool
		loc       string
	}{
		{"nil schedule", nil, None, false, "UTC"},
		{"no kind", &profilesv1.Schedule{}, None, false, "UTC"},
		{"none kind in a zone", &profilesv1.Schedule{TimeZone: sthlm, Kind: &profilesv1.Schedule_None{None: &profilesv1.NoSchedule{}}}, None, false, sthlm},
		{"none kind with nil message", &profilesv1.Schedule{Kind: &profilesv1.Schedule_None{}}, None, false, "UTC"},
		{"daily 00:00 UTC", daily(0, 0, ""), Daily, true, "UTC"},
		{"daily 23:59", daily(23, 59, sthlm), Daily, true, sthlm},
		{"weekly Sunday", weekly(typev1.DayOfWeek_DAY_OF_WEEK_SUNDAY, 2, 30, sthlm), Weekly, true, sthlm},
		{"interval 1", interval(1, ""), Interval, true, "UTC"},
		{"interval 10080", interval(10080, "Asia/Kolkata"), Interval, true, "Asia/Kolkata"},
		{"explicit UTC", daily(1, 0, "UTC"), Daily, true, "UTC"},
	}
	for _, tc := range valid {
		t.Run(tc.name, func(t *testing.T) {
			sp := mustParse(t, tc.in)
			if sp.kind != tc.kind || scheduled(sp) != tc.scheduled || sp.Location().String() != tc.loc {
				t.Fatalf("got kind %v scheduled %v loc %v, want %v %v %v", sp.kind, scheduled(sp), sp.Location(), tc.kind, tc.scheduled, tc.loc)
			}
		})
	}

	invalid := []struct {
		name string
		in   *profilesv1.Schedule
		want []string // substrings of the message
	}{
		{"unknown zone", daily(2, 30, "Mars/Olympus"), []string{`time_zone "Mars/Olympus"`, "IANA"}},
		{"Local zone", daily(2, 30, "Local"), []string{`time_zone "Local"`}},
		{"unknown zone on none", &profilesv1.Schedule{TimeZone: "Nowhere", Kind: &profilesv1.Schedule_None{None: &profilesv1.NoSchedule{}}}, []string{"time_zone"}},
		{"24:00", daily(24, 0, ""), []string{"daily.time", "00:00-23:59"}},
		{"minutes 60", daily(12, 60, ""), []string{"daily.time"}},
		{"negative hours", daily(-1, 0, ""), []string{"daily.time"}},
		{"daily without time", &profilesv1.Schedule{Kind: &profilesv1.Schedule_Daily{Daily: &profilesv1.DailySchedule{}}}, []string{"daily.time is required"}},
		{"daily nil message", &profilesv1.Schedule{Kind: &profilesv1.Schedule_Daily{}}, []string{"daily.time is required"}},
		{"weekly without day", weekly(typev1.DayOfWeek_DAY_OF_WEEK_UNSPECIFIED, 6, 0, ""), []string{"weekly.day", "Monday to Sunday"}},
		{"weekly day 8", weekly(8, 6, 0, ""), []string{"weekly.day"}},
		{"weekly 24:00", weekly(typev1.DayOfWeek_DAY_OF_WEEK_MONDAY, 24, 0, ""), []string{"weekly.time"}},
		{"weekly nil message", &profilesv1.Schedule{Kind: &profilesv1.Schedule_Weekly{}}, []string{"weekly.day", "weekly.time is required"}},
		{"interval 0", interval(0, ""), []string{"interval.minutes", "between 1 and 10080", "got 0"}},
		{"interval 10081", interval(10081, ""), []string{"interval.minutes", "got 10081"}},
		{"interval negative", interval(-5, ""), []string{"interval.minutes"}},
		{"interval nil message", &profilesv1.Schedule{Kind: &profilesv1.Schedule_Interval{}}, []string{"interval.minutes"}},
		{"every problem reported", daily(25, 0, "Bad/Zone"), []string{"time_zone", "daily.time"}},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			sp, err := Parse(tc.in)
			if err == nil {
				t.Fatalf("Parse accepted it: %v", sp.Describe())
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if scheduled(sp) {
				t.Error("an invalid schedule came back scheduled")
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	cases := []struct {
		in   *profilesv1.Schedule
		want string
	}{
		{nil, "Not scheduled"},
		{&profilesv1.Schedule{TimeZone: "Europe/Stockholm", Kind: &profilesv1.Schedule_None{}}, "Not scheduled"},
		{daily(2, 30, "Europe/Stockholm"), "Daily at 02:30 (Europe/Stockholm)"},
		{daily(0, 5, ""), "Daily at 00:05 (UTC)"},
		{weekly(typev1.DayOfWeek_DAY_OF_WEEK_MONDAY, 6, 0, "Europe/Stockholm"), "Weekly on Monday at 06:00 (Europe/Stockholm)"},
		{weekly(typev1.DayOfWeek_DAY_OF_WEEK_SUNDAY, 23, 59, "America/New_York"), "Weekly on Sunday at 23:59 (America/New_York)"},
		{interval(1, ""), "Every minute"},
		{interval(5, "Europe/Stockholm"), "Every 5 minutes"},
		{interval(7, ""), "Every 7 minutes"},
		{interval(90, ""), "Every 90 minutes"},
		{interval(60, ""), "Every hour"},
		{interval(120, ""), "Every 2 hours"},
		{interval(1440, ""), "Every 24 hours"},
		{interval(2880, ""), "Every 2 days"},
		{interval(10080, ""), "Every 7 days"},
	}
	for _, tc := range cases {
		sp := mustParse(t, tc.in)
		if got := sp.Describe(); got != tc.want {
			t.Errorf("Describe(%v) = %q, want %q", tc.in, got, tc.want)
		}
		if sp.String() != sp.Describe() {
			t.Errorf("String differs from Describe")
		}
	}
	var zero Spec
	if zero.Describe() != "Not scheduled" || scheduled(zero) || zero.Location() != time.UTC {
		t.Errorf("zero Spec: %q %v %v", zero.Describe(), scheduled(zero), zero.Location())
	}
}

func TestPeriod(t *testing.T) {
	for _, tc := range []struct {
		in   *profilesv1.Schedule
		want time.Duration
	}{
		{nil, 0},
		{daily(2, 30, "Europe/Stockholm"), 24 * time.Hour},
		{weekly(typev1.DayOfWeek_DAY_OF_WEEK_MONDAY, 6, 0, ""), 7 * 24 * time.Hour},
		{interval(5, ""), 5 * time.Minute},
		{interval(10080, ""), 7 * 24 * time.Hour},
	} {
		if got := mustParse(t, tc.in).Period(); got != tc.want {
			t.Errorf("Period(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestNextNotScheduled(t *testing.T) {
	now := time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)
	for _, sp := range []Spec{{}, mustParse(t, nil), mustParse(t, &profilesv1.Schedule{TimeZone: "Europe/Stockholm", Kind: &profilesv1.Schedule_None{}})} {
		if next, ok := sp.Next(now); ok || !next.IsZero() {
			t.Errorf("Next = %v, %v; want zero, false", next, ok)
		}
	}
}

func TestNextOutsideYears(t *testing.T) {
	sp := mustParse(t, daily(2, 30, "Europe/Stockholm"))
	iv := mustParse(t, interval(5, ""))
	for _, after := range []time.Time{
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Unix(1<<62, 0),
		time.Unix(-1<<62, 0),
	} {
		for _, s := range []Spec{sp, iv} {
			if _, ok := s.Next(after); ok {
				t.Errorf("%s: Next(%v) answered", s, after)
			}
		}
	}
	// The zero time.Time ("never ran") is in range.
	next, ok := sp.Next(time.Time{})
	if !ok || !next.After(time.Time{}) || next.Year() != 1 {
		t.Errorf("Next(zero time) = %v, %v", next, ok)
	}
	if next, ok := iv.Next(time.Time{}); !ok || next.Sub(time.Time{}) > 5*time.Minute || next.Unix()%300 != 0 {
		t.Errorf("interval Next(zero time) = %v, %v", next, ok)
	}
}

// iterate returns n successive runs from `from`, failing on a non-increasing step.
func iterate(t *testing.T, sp Spec, from time.Time, n int) []time.Time {
	t.Helper()
	var out []time.Time
	cur := from
	for range n {
		next, ok := sp.Next(cur)
		if !ok {
			t.Fatalf("%s: Next(%v) not ok", sp, cur)
		}
		if !next.After(cur) {
			t.Fatalf("%s: Next(%v) = %v is not after it", sp, cur, next)
		}
		if next.Location() != sp.Location() {
			t.Fatalf("%s: Next in %v, want %v", sp, next.Location(), sp.Location())
		}
		out = append(out, next)
		cur = next
	}
	return out
}

// TestDailyAcrossDST iterates a week around each change and asserts every run's exact instant.
func TestDailyAcrossDST(t *testing.T) {
	const (
		sthlm = "Europe/Stockholm"
		ny    = "America/New_York"
		lhi   = "Australia/Lord_Howe"
	)
	cases := []struct {
		name string
		tz   string
		h, m int32
		from string // an instant before the first expected run
		want []string
	}{
		// Stockholm spring forward 2026-03-29 02:00 CET -> 03:00 CEST (01:00Z).
		{"Stockholm 02:30 spring", sthlm, 2, 30, "2026-03-26T00:00:00Z", []string{
			"2026-03-26T01:30:00Z", "2026-03-27T01:30:00Z", "2026-03-28T01:30:00Z",
			"2026-03-29T01:30:00Z", // 02:30 CET = 03:30 CEST, once
			"2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z", "2026-04-01T00:30:00Z"}},
		{"Stockholm 02:00 spring (gap start)", sthlm, 2, 0, "2026-03-27T00:00:00Z", []string{
			"2026-03-27T01:00:00Z", "2026-03-28T01:00:00Z",
			"2026-03-29T01:00:00Z", // 03:00 CEST, the instant of the jump
			"2026-03-30T00:00:00Z"}},
		{"Stockholm 03:00 spring (gap end)", sthlm, 3, 0, "2026-03-27T00:00:00Z", []string{
			"2026-03-27T02:00:00Z", "2026-03-28T02:00:00Z",
			"2026-03-29T01:00:00Z", // 03:00 CEST exists
			"2026-03-30T01:00:00Z"}},
		{"Stockholm 01:59 spring (just before gap)", sthlm, 1, 59, "2026-03-28T00:00:00Z", []string{
			"2026-03-28T00:59:00Z", "2026-03-29T00:59:00Z", "2026-03-29T23:59:00Z"}},
		// Stockholm fall back 2026-10-25 03:00 CEST -> 02:00 CET (01:00Z).
		{"Stockholm 02:30 fall", sthlm, 2, 30, "2026-10-22T00:00:00Z", []string{
			"2026-10-22T00:30:00Z", "2026-10-23T00:30:00Z", "2026-10-24T00:30:00Z",
			"2026-10-25T00:30:00Z", // first 02:30 (CEST); the CET repeat at 01:30Z is not a run
			"2026-10-26T01:30:00Z", "2026-10-27T01:30:00Z", "2026-10-28T01:30:00Z"}},
		{"Stockholm 02:00 fall (repeat start)", sthlm, 2, 0, "2026-10-24T00:00:00Z", []string{
			"2026-10-25T00:00:00Z", "2026-10-26T01:00:00Z"}},
		{"Stockholm 03:00 fall (after repeat)", sthlm, 3, 0, "2026-10-24T00:00:00Z", []string{
			"2026-10-24T01:00:00Z", "2026-10-25T02:00:00Z", "2026-10-26T02:00:00Z"}},
		// New York spring forward 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z).
		{"New York 02:30 spring", ny, 2, 30, "2026-03-05T00:00:00Z", []string{
			"2026-03-05T07:30:00Z", "2026-03-06T07:30:00Z", "2026-03-07T07:30:00Z",
			"2026-03-08T07:30:00Z", // 02:30 EST = 03:30 EDT
			"2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z", "2026-03-11T06:30:00Z"}},
		{"New York 02:00 spring", ny, 2, 0, "2026-03-07T00:00:00Z", []string{
			"2026-03-07T07:00:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"}},
		{"New York 03:00 spring", ny, 3, 0, "2026-03-07T00:00:00Z", []string{
			"2026-03-07T08:00:00Z", "2026-03-08T07:00:00Z", "2026-03-09T07:00:00Z"}},
		// New York fall back 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z): 01:00-01:59 repeats.
		{"New York 02:30 fall (not repeated there)", ny, 2, 30, "2026-10-29T00:00:00Z", []string{
			"2026-10-29T06:30:00Z", "2026-10-30T06:30:00Z", "2026-10-31T06:30:00Z",
			"2026-11-01T07:30:00Z",
			"2026-11-02T07:30:00Z", "2026-11-03T07:30:00Z", "2026-11-04T07:30:00Z"}},
		{"New York 01:30 fall (repeated)", ny, 1, 30, "2026-10-31T00:00:00Z", []string{
			"2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
		{"New York 01:00 fall", ny, 1, 0, "2026-10-31T12:00:00Z", []string{
			"2026-11-01T05:00:00Z", "2026-11-02T06:00:00Z"}},
		{"New York 02:00 fall", ny, 2, 0, "2026-10-31T12:00:00Z", []string{
			"2026-11-01T07:00:00Z", "2026-11-02T07:00:00Z"}},
		// Lord Howe moves 30 minutes: +10:30 -> +11 at 02:00 on 2026-10-04 (gap 02:00-02:29),
		// +11 -> +10:30 at 02:00 on 2026-04-05 (01:30-01:59 repeats).
		{"Lord Howe 02:15 spring", lhi, 2, 15, "2026-10-01T00:00:00Z", []string{
			"2026-10-01T15:45:00Z", "2026-10-02T15:45:00Z",
			"2026-10-03T15:45:00Z", // the 4th: 02:15 +10:30 = 02:45 +11
			"2026-10-04T15:15:00Z"}},
		{"Lord Howe 02:30 spring", lhi, 2, 30, "2026-10-02T00:00:00Z", []string{
			"2026-10-02T16:00:00Z", "2026-10-03T15:30:00Z", "2026-10-04T15:30:00Z"}},
		{"Lord Howe 01:45 fall", lhi, 1, 45, "2026-04-03T00:00:00Z", []string{
			"2026-04-03T14:45:00Z", "2026-04-04T14:45:00Z", // first 01:45 (+11) on the 5th
			"2026-04-05T15:15:00Z"}},
		// Kolkata: +05:30 all year.
		{"Kolkata 02:30", "Asia/Kolkata", 2, 30, "2026-03-28T00:00:00Z", []string{
			"2026-03-28T21:00:00Z", "2026-03-29T21:00:00Z", "2026-03-30T21:00:00Z"}},
		// Havana changes at midnight: 2026-03-08 00:00 -> 01:00, 2026-11-01 01:00 -> 00:00.
		{"Havana 00:30 spring", "America/Havana", 0, 30, "2026-03-07T00:00:00Z", []string{
			"2026-03-07T05:30:00Z", "2026-03-08T05:30:00Z", "2026-03-09T04:30:00Z"}},
		{"Havana 00:30 fall", "America/Havana", 0, 30, "2026-10-31T00:00:00Z", []string{
			"2026-10-31T04:30:00Z", "2026-11-01T04:30:00Z", "2026-11-02T05:30:00Z"}},
		// Samoa skipped 2011-12-30 (-10 -> +14 at midnight): 10:00 read before the jump is
		// 10:00 on the 31st, so one run, not two.
		{"Apia skipped day", "Pacific/Apia", 10, 0, "2011-12-28T00:00:00Z", []string{
			"2011-12-28T20:00:00Z", "2011-12-29T20:00:00Z", "2011-12-30T20:00:00Z", "2011-12-31T20:00:00Z"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sp := mustParse(t, daily(tc.h, tc.m, tc.tz))
			got := iterate(t, sp, utc(t, tc.from), len(tc.want))
			for i, w := range tc.want {
				if !got[i].Equal(utc(t, w)) {
					t.Errorf("run %d = %s (%s), want %s", i, got[i].UTC().Format(time.RFC3339), got[i].Format("2006-01-02 15:04 MST"), w)
				}
			}
			// Strictly after: asking from a run itself gives the following one, and from just
			// before it gives the run.
			for i := 0; i+1 < len(got); i++ {
				if next, _ := sp.Next(got[i]); !next.Equal(got[i+1]) {
					t.Errorf("Next(run %d) = %v, want %v", i, next, got[i+1])
				}
				if next, _ := sp.Next(got[i+1].Add(-time.Nanosecond)); !next.Equal(got[i+1]) {
					t.Errorf("Next(just before run %d) = %v", i+1, next)
				}
			}
		})
	}
}

func TestWeeklyAcrossDST(t *testing.T) {
	sun := typev1.DayOfWeek_DAY_OF_WEEK_SUNDAY
	cases := []struct {
		name string
		tz   string
		day  typev1.DayOfWeek
		h, m int32
		from string
		want []string
	}{
		{"Stockholm Sunday 02:30 spring", "Europe/Stockholm", sun, 2, 30, "2026-03-16T00:00:00Z", []string{
			"2026-03-22T01:30:00Z", "2026-03-29T01:30:00Z", "2026-04-05T00:30:00Z"}},
		{"Stockholm Sunday 02:30 fall", "Europe/Stockholm", sun, 2, 30, "2026-10-12T00:00:00Z", []string{
			"2026-10-18T00:30:00Z", "2026-10-25T00:30:00Z", "2026-11-01T01:30:00Z"}},
		{"New York Sunday 02:30 spring", "America/New_York", sun, 2, 30, "2026-02-28T00:00:00Z", []string{
			"2026-03-01T07:30:00Z", "2026-03-08T07:30:00Z", "2026-03-15T06:30:00Z"}},
		{"New York Sunday 01:30 fall", "America/New_York", sun, 1, 30, "2026-10-20T00:00:00Z", []string{
			"2026-10-25T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-08T06:30:00Z"}},
		{"Stockholm Monday 06:00", "Europe/Stockholm", typev1.DayOfWeek_DAY_OF_WEEK_MONDAY, 6, 0, "2026-03-24T00:00:00Z", []string{
			"2026-03-30T04:00:00Z", "2026-04-06T04:00:00Z"}},
		// 23:30 Sunday in Kolkata is Sunday 18:00Z; from Sunday 20:00Z (Monday there) it is a week on.
		{"Kolkata Sunday 23:30", "Asia/Kolkata", sun, 23, 30, "2026-03-29T18:00:00Z", []string{
			"2026-04-05T18:00:00Z", "2026-04-12T18:00:00Z"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sp := mustParse(t, weekly(tc.day, tc.h, tc.m, tc.tz))
			got := iterate(t, sp, utc(t, tc.from), len(tc.want))
			for i, w := range tc.want {
				if !got[i].Equal(utc(t, w)) {
					t.Errorf("run %d = %s (%s), want %s", i, got[i].UTC().Format(time.RFC3339), got[i].Format("Mon 2006-01-02 15:04 MST"), w)
				}
			}
		})
	}
}

func TestInterval(t *testing.T) {
	cases := []struct {
		name  string
		n     int32
		tz    string
		after string
		want  string
	}{
		{"5 mid-step", 5, "", "2026-03-29T00:57:13Z", "2026-03-29T01:00:00Z"},
		{"5 on a grid point gives the next", 5, "", "2026-03-29T01:00:00Z", "2026-03-29T01:05:00Z"},
		{"5 a nanosecond past", 5, "", "2026-03-29T01:00:00.000000001Z", "2026-03-29T01:05:00Z"},
		{"5 a nanosecond before", 5, "", "2026-03-29T00:59:59.999999999Z", "2026-03-29T01:00:00Z"},
		{"5 zone does not move the grid", 5, "Asia/Kolkata", "2026-03-29T00:57:13Z", "2026-03-29T01:00:00Z"},
		// 2026-01-01T00:00Z is 20454 days after the epoch, a multiple of 7 days, so a 7-minute
		// grid point; a day later is 300 s past one (86400 mod 420), so the next is 00:02.
		{"7 on grid", 7, "", "2026-01-01T00:00:00Z", "2026-01-01T00:07:00Z"},
		{"7 just before", 7, "", "2025-12-31T23:59:59Z", "2026-01-01T00:00:00Z"},
		{"7 does not restart each hour or day", 7, "", "2026-01-02T00:00:00Z", "2026-01-02T00:02:00Z"},
		{"7 before the epoch floors", 7, "", "1969-12-31T23:59:00Z", "1970-01-01T00:00:00Z"},
		{"7 before the epoch on grid", 7, "", "1969-12-31T23:53:00Z", "1970-01-01T00:00:00Z"},
		{"7 before the epoch past grid", 7, "", "1969-12-31T23:52:59Z", "1969-12-31T23:53:00Z"},
		{"1440 is UTC midnight, not local", 1440, "Europe/Stockholm", "2026-03-29T12:00:00Z", "2026-03-30T00:00:00Z"},
		{"1440 on grid", 1440, "America/New_York", "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"},
		{"10080 Thursdays 00:00Z", 10080, "", "2025-12-31T23:59:59Z", "2026-01-01T00:00:00Z"},
		{"10080 on grid", 10080, "", "2026-01-01T00:00:00Z", "2026-01-08T00:00:00Z"},
		{"10080 mid-week", 10080, "Europe/Stockholm", "2026-03-29T01:30:00Z", "2026-04-02T00:00:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sp := mustParse(t, interval(tc.n, tc.tz))
			got, ok := sp.Next(utc(t, tc.after))
			if !ok || !got.Equal(utc(t, tc.want)) {
				t.Fatalf("Next(%s) = %v, %v; want %s", tc.after, got.UTC(), ok, tc.want)
			}
			if got.Location() != sp.Location() {
				t.Errorf("location %v, want %v", got.Location(), sp.Location())
			}
		})
	}

	// Elapsed time across both Stockholm changes: hourly runs stay 60 minutes apart even
	// though the wall clock skips or repeats an hour.
	for _, from := range []string{"2026-03-28T23:30:00Z", "2026-10-24T23:30:00Z"} {
		sp := mustParse(t, interval(60, "Europe/Stockholm"))
		runs := iterate(t, sp, utc(t, from), 6)
		for i, r := range runs {
			want := utc(t, from).Add(30*time.Minute + time.Duration(i)*time.Hour)
			if !r.Equal(want) {
				t.Errorf("from %s run %d = %v, want %v", from, i, r.UTC(), want)
			}
		}
	}
}

// TestSameInstantMeansSameRuns: the answer depends on the instant, not on the location or
// monotonic reading `after` carries.
func TestSameInstantMeansSameRuns(t *testing.T) {
	sp := mustParse(t, daily(2, 30, "Europe/Stockholm"))
	at := time.Date(2026, 10, 25, 0, 45, 0, 0, time.UTC)
	want, _ := sp.Next(at)
	for _, name := range []string{"America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"} {
		if got, _ := sp.Next(at.In(mustLoc(t, name))); !got.Equal(want) {
			t.Errorf("after in %s: %v, want %v", name, got, want)
		}
	}
	now := time.Now() // carries a monotonic reading
	a, _ := sp.Next(now)
	b, _ := sp.Next(now.Round(0))
	if !a.Equal(b) {
		t.Errorf("monotonic reading changed the answer: %v vs %v", a, b)
	}
}
