package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
)

// profileForm is a profile's form as posted: text as typed, so a refused form comes
// back exactly as the person left it. The two secrets are read from the post but kept
// unexported, so no template can put them back into a page.
type profileForm struct {
	Code, DisplayName, Description  string
	System                          string // "libris", "netpunkt" or "" (see systems)
	LibrisBaseURL, LibrisCode       string
	NetpunktBaseURL, NetpunktAgency string
	NetpunktUser, NetpunktGroup     string
	Library                         string
	RequireAuth, Active             bool
	HarvestDate, Granularity        string // "2006-01-02"; "day" or "second"
	HarvestTime                     string // "15:04", SECOND granularity only
	ScheduleKind                    string // "none", "daily", "weekly", "interval"
	ScheduleTime, ScheduleDay       string // "15:04"; "1" (Monday) … "7"
	ScheduleMinutes, TimeZone       string

	apiKey, receiptPassword string
}

// systems are the external systems a form may name, by the word the form uses.
var systems = map[string]typev1.ExternalSystem{
	"libris":   typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS,
	"netpunkt": typev1.ExternalSystem_EXTERNAL_SYSTEM_NETPUNKT,
}

// systemWord is the form's word for s ("" when unset).
func systemWord(s typev1.ExternalSystem) string {
	for w, e := range systems {
		if e == s {
			return w
		}
	}
	return ""
}

// defaultZones are the zones a new profile's schedule starts in, by system: where the
// libraries using the system are.
var defaultZones = map[string]string{"libris": "Europe/Stockholm", "netpunkt": "Europe/Copenhagen"}

// readProfileForm reads the profile form's fields from a post.
func readProfileForm(r *http.Request) profileForm {
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	return profileForm{
		Code: v("code"), DisplayName: v("display_name"), Description: r.PostFormValue("description"),
		System:        v("system"),
		LibrisBaseURL: v("libris_base_url"), LibrisCode: v("libris_library_code"),
		NetpunktBaseURL: v("netpunkt_base_url"), NetpunktAgency: v("netpunkt_agency_id"),
		NetpunktUser: v("netpunkt_user"), NetpunktGroup: v("netpunkt_group"),
		Library:     v("resource_sharing_library"),
		RequireAuth: r.PostFormValue("require_authentication") == "on", Active: r.PostFormValue("active") == "on",
		HarvestDate: v("harvest_date"), Granularity: v("harvest_granularity"), HarvestTime: v("harvest_time"),
		ScheduleKind: v("schedule_kind"), ScheduleTime: v("schedule_time"), ScheduleDay: v("schedule_day"),
		ScheduleMinutes: v("schedule_minutes"), TimeZone: v("time_zone"),
		// Secrets exactly as typed: the service refuses surrounding spaces with a reason.
		apiKey: r.PostFormValue("api_key"), receiptPassword: r.PostFormValue("receipt_password"),
	}
}

// formOf fills the form from a stored profile (for editing); secrets stay empty.
func formOf(p *profilesv1.IntegrationProfile) profileForm {
	f := profileForm{
		Code: p.GetCode(), DisplayName: p.GetDisplayName(), Description: p.GetDescription(),
		System:        systemWord(p.GetSystem()),
		LibrisBaseURL: p.GetLibris().GetBaseUrl(), LibrisCode: p.GetLibris().GetLibraryCode(),
		NetpunktBaseURL: p.GetNetpunkt().GetBaseUrl(), NetpunktAgency: p.GetNetpunkt().GetAgencyId(),
		NetpunktUser: p.GetNetpunkt().GetUser(), NetpunktGroup: p.GetNetpunkt().GetGroup(),
		Library:     p.GetResourceSharingLibrary(),
		RequireAuth: p.GetRequireAuthentication(), Active: p.GetActive(),
		Granularity: "day", ScheduleKind: "none", TimeZone: p.GetSchedule().GetTimeZone(),
	}
	if h := p.GetHarvestStart(); h != nil {
		if d := h.GetDate(); d != nil {
			f.HarvestDate = fmt.Sprintf("%04d-%02d-%02d", d.GetYear(), d.GetMonth(), d.GetDay())
		}
		if h.GetGranularity() == profilesv1.HarvestGranularity_HARVEST_GRANULARITY_SECOND {
			f.Granularity = "second"
		}
		if t := h.GetTime(); t != nil {
			f.HarvestTime = clock(t)
		}
	}
	switch k := p.GetSchedule().GetKind().(type) {
	case *profilesv1.Schedule_Daily:
		f.ScheduleKind, f.ScheduleTime = "daily", clock(k.Daily.GetTime())
	case *profilesv1.Schedule_Weekly:
		f.ScheduleKind, f.ScheduleTime = "weekly", clock(k.Weekly.GetTime())
		f.ScheduleDay = strconv.Itoa(int(k.Weekly.GetDay()))
	case *profilesv1.Schedule_Interval:
		f.ScheduleKind, f.ScheduleMinutes = "interval", strconv.Itoa(int(k.Interval.GetMinutes()))
	}
	return f
}

// General is the first step's part of the profile.
func (f profileForm) general() *profilesv1.IntegrationProfile {
	return &profilesv1.IntegrationProfile{
		Code: f.Code, DisplayName: f.DisplayName, Description: f.Description,
		IntegrationType: profilesv1.IntegrationType_INTEGRATION_TYPE_RESOURCE_SHARING,
	}
}

// profile builds the whole profile the form describes. What cannot even be read (a
// date that is no date, minutes that are no number) is reported under the field path
// the service would use, by catalog key; the service judges everything else.
func (f profileForm) profile() (*profilesv1.IntegrationProfile, map[string]string) {
	bad := map[string]string{}
	p := f.general()
	p.ResourceSharingLibrary = f.Library
	p.RequireAuthentication, p.Active = f.RequireAuth, f.Active
	p.ApiKey, p.ReceiptPassword = f.apiKey, f.receiptPassword
	switch f.System {
	case "libris":
		p.System = systems[f.System]
		p.SystemConfig = &profilesv1.IntegrationProfile_Libris{Libris: &profilesv1.LibrisConfig{BaseUrl: f.LibrisBaseURL, LibraryCode: f.LibrisCode}}
	case "netpunkt":
		p.System = systems[f.System]
		p.SystemConfig = &profilesv1.IntegrationProfile_Netpunkt{Netpunkt: &profilesv1.NetpunktConfig{
			BaseUrl: f.NetpunktBaseURL, AgencyId: f.NetpunktAgency, User: f.NetpunktUser, Group: f.NetpunktGroup}}
	case "":
	default:
		bad["integration_profile.system"] = "profiles.form.bad_system"
	}
	if f.HarvestDate != "" || f.HarvestTime != "" {
		h := &profilesv1.HarvestStart{Granularity: profilesv1.HarvestGranularity_HARVEST_GRANULARITY_DAY}
		if f.Granularity == "second" {
			h.Granularity = profilesv1.HarvestGranularity_HARVEST_GRANULARITY_SECOND
		}
		if d, err := time.Parse(time.DateOnly, f.HarvestDate); err == nil {
			h.Date = &typev1.Date{Year: int32(d.Year()), Month: int32(d.Month()), Day: int32(d.Day())}
		} else if f.HarvestDate != "" {
			bad["integration_profile.harvest_start.date"] = "profiles.form.bad_date"
		}
		if f.HarvestTime != "" {
			if t, ok := parseClock(f.HarvestTime); ok {
				h.Time = t
			} else {
				bad["integration_profile.harvest_start.time"] = "profiles.form.bad_time"
			}
		}
		p.HarvestStart = h
	}
	s := &profilesv1.Schedule{TimeZone: f.TimeZone}
	at := func(field string) *typev1.TimeOfDay {
		if f.ScheduleTime == "" {
			return nil // the service says it is required
		}
		t, ok := parseClock(f.ScheduleTime)
		if !ok {
			bad[field] = "profiles.form.bad_time"
		}
		return t
	}
	switch f.ScheduleKind {
	case "", "none":
		s.Kind = &profilesv1.Schedule_None{None: &profilesv1.NoSchedule{}}
	case "daily":
		s.Kind = &profilesv1.Schedule_Daily{Daily: &profilesv1.DailySchedule{Time: at("integration_profile.schedule.daily.time")}}
	case "weekly":
		day, err := strconv.Atoi(f.ScheduleDay)
		if err != nil {
			day = 0 // the service names the accepted days
		}
		s.Kind = &profilesv1.Schedule_Weekly{Weekly: &profilesv1.WeeklySchedule{Day: typev1.DayOfWeek(day), Time: at("integration_profile.schedule.weekly.time")}}
	case "interval":
		m, err := strconv.Atoi(f.ScheduleMinutes)
		if err != nil && f.ScheduleMinutes != "" {
			bad["integration_profile.schedule.interval.minutes"] = "profiles.form.bad_number"
		}
		s.Kind = &profilesv1.Schedule_Interval{Interval: &profilesv1.IntervalSchedule{Minutes: int32(min(max(m, -1), 1<<20))}}
	default:
		bad["integration_profile.schedule"] = "profiles.form.bad_schedule"
	}
	p.Schedule = s
	return p, bad
}

// updateMask names the fields the edit form holds, so an update changes exactly those:
// the secrets only when something was typed into them (an empty input keeps them).
func (f profileForm) updateMask() []string {
	paths := []string{"display_name", "description", "resource_sharing_library", "require_authentication", "active", "harvest_start", "schedule"}
	if f.System != "" {
		paths = append(paths, "system", f.System)
	}
	if f.apiKey != "" {
		paths = append(paths, "api_key")
	}
	if f.receiptPassword != "" {
		paths = append(paths, "receipt_password")
	}
	return paths
}

// profileInputs maps the profile form's inputs to the service's field paths, so each
// violation the service reports shows beside its input.
var profileInputs = map[string][]string{
	"code": {"integration_profile.code"}, "display_name": {"integration_profile.display_name"},
	"description": {"integration_profile.description"}, "system": {"integration_profile.system"},
	"libris_base_url": {"integration_profile.libris.base_url"}, "libris_library_code": {"integration_profile.libris.library_code"},
	"netpunkt_base_url": {"integration_profile.netpunkt.base_url"}, "netpunkt_agency_id": {"integration_profile.netpunkt.agency_id"},
	"netpunkt_user": {"integration_profile.netpunkt.user"}, "netpunkt_group": {"integration_profile.netpunkt.group"},
	"resource_sharing_library": {"integration_profile.resource_sharing_library"}, "api_key": {"integration_profile.api_key"},
	"receipt_password": {"integration_profile.receipt_password"}, "harvest_date": {"integration_profile.harvest_start.date"},
	"harvest_granularity": {"integration_profile.harvest_start.granularity"}, "harvest_time": {"integration_profile.harvest_start.time"},
	"schedule_kind": {"integration_profile.schedule"}, "time_zone": {"integration_profile.schedule.time_zone"},
	"schedule_time": {"integration_profile.schedule.daily.time", "integration_profile.schedule.weekly.time"},
	"schedule_day":  {"integration_profile.schedule.weekly.day"}, "schedule_minutes": {"integration_profile.schedule.interval.minutes"},
}

// fieldErr is a violation shown beside its input (ID is the input's id).
type fieldErr struct{ ID, Msg string }

// fieldErrors sorts a refusal's field violations onto a form's inputs (input id →
// service field path); violations of fields the form has no input for are returned as
// "path: message" lines to list above the form, so none is hidden.
func fieldErrors(p *problem, inputs map[string][]string) (map[string]fieldErr, []string) {
	errs := map[string]fieldErr{}
	if p == nil {
		return errs, nil
	}
	shown := map[string]bool{}
	for id, paths := range inputs {
		for _, path := range paths {
			if msg := p.Field(path); msg != "" {
				errs[id] = fieldErr{ID: id, Msg: msg}
				shown[path] = true
			}
		}
	}
	var other []string
	for path, msg := range p.Fields {
		if !shown[path] {
			other = append(other, path+": "+msg)
		}
	}
	slices.Sort(other)
	return errs, other
}

func clock(t *typev1.TimeOfDay) string {
	if t == nil {
		return ""
	}
	return fmt.Sprintf("%02d:%02d", t.GetHours(), t.GetMinutes())
}

// parseClock reads "HH:MM" (a time input's value).
func parseClock(s string) (*typev1.TimeOfDay, bool) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return nil, false
	}
	return &typev1.TimeOfDay{Hours: int32(t.Hour()), Minutes: int32(t.Minute())}, true
}

// scheduleWords says when a schedule runs, e.g. "Every day at 06:00 Europe/Stockholm".
func scheduleWords(c catalog, s *profilesv1.Schedule) string {
	zone := s.GetTimeZone()
	if zone == "" {
		zone = "UTC"
	}
	switch k := s.GetKind().(type) {
	case *profilesv1.Schedule_Daily:
		return c.T("profiles.schedule.daily", clock(k.Daily.GetTime()), zone)
	case *profilesv1.Schedule_Weekly:
		return c.T("profiles.schedule.weekly", c.T(dayKey(k.Weekly.GetDay())), clock(k.Weekly.GetTime()), zone)
	case *profilesv1.Schedule_Interval:
		switch m := k.Interval.GetMinutes(); {
		case m == 1:
			return c.T("profiles.schedule.every_minute")
		case m == 60:
			return c.T("profiles.schedule.every_hour")
		case m%60 == 0:
			return c.T("profiles.schedule.every_hours", m/60)
		default:
			return c.T("profiles.schedule.every_minutes", m)
		}
	}
	return c.T("profiles.schedule.none")
}

// dayKey is the catalog key of a day's name.
func dayKey(d typev1.DayOfWeek) string {
	if d < typev1.DayOfWeek_DAY_OF_WEEK_MONDAY || d > typev1.DayOfWeek_DAY_OF_WEEK_SUNDAY {
		return "profiles.day.unknown"
	}
	return "profiles.day." + strconv.Itoa(int(d))
}
