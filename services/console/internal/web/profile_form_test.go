package web

import (
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
)

func TestScheduleWords(t *testing.T) {
	c, err := loadCatalog("en")
	if err != nil {
		t.Fatal(err)
	}
	at := func(h, m int32) *typev1.TimeOfDay { return &typev1.TimeOfDay{Hours: h, Minutes: m} }
	every := func(m int32) *profilesv1.Schedule {
		return &profilesv1.Schedule{Kind: &profilesv1.Schedule_Interval{Interval: &profilesv1.IntervalSchedule{Minutes: m}}}
	}
	for _, tc := range []struct {
		s    *profilesv1.Schedule
		want string
	}{
		{nil, "Not scheduled"},
		{&profilesv1.Schedule{}, "Not scheduled"},
		{&profilesv1.Schedule{Kind: &profilesv1.Schedule_None{None: &profilesv1.NoSchedule{}}, TimeZone: "Europe/Oslo"}, "Not scheduled"},
		{&profilesv1.Schedule{Kind: &profilesv1.Schedule_Daily{Daily: &profilesv1.DailySchedule{Time: at(6, 0)}}, TimeZone: "Europe/Stockholm"},
			"Every day at 06:00 Europe/Stockholm"},
		{&profilesv1.Schedule{Kind: &profilesv1.Schedule_Daily{Daily: &profilesv1.DailySchedule{Time: at(23, 5)}}}, "Every day at 23:05 UTC"},
		{&profilesv1.Schedule{Kind: &profilesv1.Schedule_Weekly{Weekly: &profilesv1.WeeklySchedule{Day: typev1.DayOfWeek_DAY_OF_WEEK_THURSDAY, Time: at(7, 30)}},
			TimeZone: "Europe/Copenhagen"}, "Every Thursday at 07:30 Europe/Copenhagen"},
		{&profilesv1.Schedule{Kind: &profilesv1.Schedule_Weekly{Weekly: &profilesv1.WeeklySchedule{Day: typev1.DayOfWeek_DAY_OF_WEEK_SUNDAY, Time: at(0, 0)}}},
			"Every Sunday at 00:00 UTC"},
		{every(1), "Every minute"},
		{every(30), "Every 30 minutes"},
		{every(60), "Every hour"},
		{every(90), "Every 90 minutes"},
		{every(180), "Every 3 hours"},
		{every(10080), "Every 168 hours"},
	} {
		if got := scheduleWords(c, tc.s); got != tc.want {
			t.Errorf("scheduleWords(%v) = %q, want %q", tc.s, got, tc.want)
		}
	}
}

// TestProfileFormRoundTrip: a stored profile shown in the form and posted back unchanged
// is the same profile, so saving an untouched form changes nothing.
func TestProfileFormRoundTrip(t *testing.T) {
	for _, p := range []*profilesv1.IntegrationProfile{
		{Code: "libris-abc", DisplayName: "Libris Abc", Description: "two\nlines", System: typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS,
			SystemConfig:           &profilesv1.IntegrationProfile_Libris{Libris: &profilesv1.LibrisConfig{BaseUrl: "https://libris.example/api", LibraryCode: "Abc"}},
			ResourceSharingLibrary: "MAIN", Active: true, RequireAuthentication: true,
			HarvestStart: &profilesv1.HarvestStart{Date: &typev1.Date{Year: 2024, Month: 2, Day: 29}, Granularity: profilesv1.HarvestGranularity_HARVEST_GRANULARITY_DAY},
			Schedule: &profilesv1.Schedule{Kind: &profilesv1.Schedule_Weekly{Weekly: &profilesv1.WeeklySchedule{
				Day: typev1.DayOfWeek_DAY_OF_WEEK_MONDAY, Time: &typev1.TimeOfDay{Hours: 6}}}, TimeZone: "Europe/Stockholm"}},
		{Code: "np", DisplayName: "Netpunkt", System: typev1.ExternalSystem_EXTERNAL_SYSTEM_NETPUNKT,
			SystemConfig: &profilesv1.IntegrationProfile_Netpunkt{Netpunkt: &profilesv1.NetpunktConfig{BaseUrl: "https://np.example", AgencyId: "710100", User: "u", Group: "g"}},
			HarvestStart: &profilesv1.HarvestStart{Date: &typev1.Date{Year: 2025, Month: 1, Day: 2}, Granularity: profilesv1.HarvestGranularity_HARVEST_GRANULARITY_SECOND,
				Time: &typev1.TimeOfDay{Hours: 13, Minutes: 45}},
			Schedule: &profilesv1.Schedule{Kind: &profilesv1.Schedule_Interval{Interval: &profilesv1.IntervalSchedule{Minutes: 15}}}},
	} {
		f := formOf(p)
		got, bad := postForm(t, f).profile()
		if len(bad) > 0 {
			t.Fatalf("%s: %v", p.Code, bad)
		}
		want := proto.Clone(p).(*profilesv1.IntegrationProfile)
		want.IntegrationType = profilesv1.IntegrationType_INTEGRATION_TYPE_RESOURCE_SHARING
		if !proto.Equal(got, want) {
			t.Errorf("%s: round trip\n got %v\nwant %v", p.Code, got, want)
		}
	}
}

// postForm posts f as the browser would and reads it back.
func postForm(t *testing.T, f profileForm) profileForm {
	t.Helper()
	v := url.Values{
		"code": {f.Code}, "display_name": {f.DisplayName}, "description": {f.Description}, "system": {f.System},
		"libris_base_url": {f.LibrisBaseURL}, "libris_library_code": {f.LibrisCode},
		"netpunkt_base_url": {f.NetpunktBaseURL}, "netpunkt_agency_id": {f.NetpunktAgency}, "netpunkt_user": {f.NetpunktUser}, "netpunkt_group": {f.NetpunktGroup},
		"resource_sharing_library": {f.Library}, "harvest_date": {f.HarvestDate}, "harvest_granularity": {f.Granularity}, "harvest_time": {f.HarvestTime},
		"schedule_kind": {f.ScheduleKind}, "schedule_time": {f.ScheduleTime}, "schedule_day": {f.ScheduleDay}, "schedule_minutes": {f.ScheduleMinutes},
		"time_zone": {f.TimeZone},
	}
	if f.RequireAuth {
		v.Set("require_authentication", "on")
	}
	if f.Active {
		v.Set("active", "on")
	}
	r := httptest.NewRequest("POST", "/", strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return readProfileForm(r)
}

func TestProfileFormRefusesWhatItCannotRead(t *testing.T) {
	f := profileForm{HarvestDate: "31/12/2024", ScheduleKind: "daily", ScheduleTime: "6 o'clock", System: "alma"}
	_, bad := f.profile()
	for _, path := range []string{"integration_profile.harvest_start.date", "integration_profile.schedule.daily.time", "integration_profile.system"} {
		if bad[path] == "" {
			t.Errorf("no violation for %s in %v", path, bad)
		}
	}
	f = profileForm{ScheduleKind: "interval", ScheduleMinutes: "many"}
	if _, bad := f.profile(); bad["integration_profile.schedule.interval.minutes"] == "" {
		t.Errorf("minutes: %v", bad)
	}
}

// TestUpdateMaskNamesSecretsOnlyWhenTyped: an empty key input keeps the stored key.
func TestUpdateMaskNamesSecretsOnlyWhenTyped(t *testing.T) {
	f := profileForm{System: "libris"}
	if m := f.updateMask(); slices.Contains(m, "api_key") || slices.Contains(m, "receipt_password") || !slices.Contains(m, "libris") {
		t.Errorf("untouched secrets: mask %v", m)
	}
	f.apiKey = "k"
	if m := f.updateMask(); !slices.Contains(m, "api_key") {
		t.Errorf("typed key: mask %v", m)
	}
}

// TestProfileKeysExist covers the catalog keys the profile and mapping pages build at
// run time, which the catalog test cannot see.
func TestProfileKeysExist(t *testing.T) {
	c, err := loadCatalog("en")
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{sysKey(typev1.ExternalSystem_EXTERNAL_SYSTEM_UNSPECIFIED), "profiles.day.unknown"}
	for w := range systems {
		keys = append(keys, sysKey(systems[w]), "profiles.system."+w)
	}
	for d := typev1.DayOfWeek_DAY_OF_WEEK_MONDAY; d <= typev1.DayOfWeek_DAY_OF_WEEK_SUNDAY; d++ {
		keys = append(keys, dayKey(d))
	}
	for _, f := range []string{"system", "libris", "netpunkt", "resource_sharing_library", "api_key", "harvest_start"} {
		keys = append(keys, "profiles.missing."+f)
	}
	for _, k := range []string{"none", "daily", "weekly", "interval"} {
		keys = append(keys, "profiles.schedule_kind."+k)
	}
	for _, o := range slices.Concat(systemOptions, resolveKinds, partnerStatuses, weekDays) {
		keys = append(keys, o.Key)
	}
	for s := range statusValues {
		keys = append(keys, "partners.status."+s)
	}
	for _, k := range keys {
		if _, ok := c[k]; !ok {
			t.Errorf("catalog lacks %q", k)
		}
	}
}
