package api

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/interloan/interloan/external"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/validate"
)

const (
	maxDescription = 2000
	maxAPIKey      = 1024
	maxInterval    = 7 * 24 * 60
	// minReceiptPassword is the shortest receipt password accepted, in characters. The
	// receipt listener is reachable from outside without a token, so the password is
	// all that stands between a guesser and the profile's inbox.
	minReceiptPassword = 16
)

// validateProfile checks a complete (merged) profile; f prefixes field paths, e.g.
// "integration_profile.". now is used for "harvest start not in the future".
func validateProfile(p *profilesv1.IntegrationProfile, f string, now time.Time) error {
	var v apierr.Violations
	validate.Code(&v, f+"code", p.Code)
	validate.DisplayName(&v, f+"display_name", p.DisplayName)
	validate.Text(&v, f+"description", p.Description, maxDescription, true)
	validate.Enum(&v, f+"integration_type", p.IntegrationType, true)
	validate.Enum(&v, f+"system", p.System, false)
	if sys := external.Configured(p); sys != nil {
		if sys.Enum != p.System {
			v.Add(f+"system", "is %s but the system configuration given is for %s", p.System, sys.Enum)
		}
		sys.Validate(&v, f+string(sys.Block)+".", p)
	}
	if p.ResourceSharingLibrary != "" {
		validate.Code(&v, f+"resource_sharing_library", p.ResourceSharingLibrary)
	}
	loc := validateSchedule(&v, f+"schedule.", p.Schedule)
	validateHarvestStart(&v, f+"harvest_start.", p.HarvestStart, p.System, now.In(loc))
	return v.Err()
}

// validateAPIKey checks a credential given on input.
func validateAPIKey(key, field string) error {
	switch {
	case len(key) > maxAPIKey:
		return apierr.Invalid(field, "must be at most %d bytes", maxAPIKey)
	case strings.TrimSpace(key) != key:
		return apierr.Invalid(field, "must not start or end with whitespace (a copy-paste slip?)")
	case !utf8.ValidString(key) || strings.IndexFunc(key, unicode.IsControl) >= 0:
		return apierr.Invalid(field, "must be printable text")
	}
	return nil
}

// validateReceiptPassword checks a receipt password given on input: a credential that
// is also long enough not to be guessed.
func validateReceiptPassword(pw, field string) error {
	if err := validateAPIKey(pw, field); err != nil {
		return err
	}
	if utf8.RuneCountInString(pw) < minReceiptPassword {
		return apierr.Invalid(field, "must be at least %d characters: Netpunkt's receipts reach the harvester without a token, so a short password can be guessed; generate a random one, e.g. openssl rand -base64 18", minReceiptPassword)
	}
	return nil
}

// validateSchedule checks the schedule and returns its time zone (UTC when unset or invalid).
func validateSchedule(v *apierr.Violations, f string, s *profilesv1.Schedule) *time.Location {
	loc := time.UTC
	if s == nil {
		return loc
	}
	if s.TimeZone != "" {
		l, err := time.LoadLocation(s.TimeZone)
		if err != nil || s.TimeZone == "Local" {
			v.Add(f+"time_zone", "must be an IANA time zone such as Europe/Stockholm")
		} else {
			loc = l
		}
	}
	switch k := s.Kind.(type) {
	case *profilesv1.Schedule_Daily:
		timeOfDay(v, f+"daily.time", k.Daily.GetTime(), true)
	case *profilesv1.Schedule_Weekly:
		validate.Enum(v, f+"weekly.day", k.Weekly.GetDay(), true)
		timeOfDay(v, f+"weekly.time", k.Weekly.GetTime(), true)
	case *profilesv1.Schedule_Interval:
		if m := k.Interval.GetMinutes(); m < 1 || m > maxInterval {
			v.Add(f+"interval.minutes", "must be between 1 and %d", maxInterval)
		}
	}
	return loc
}

func timeOfDay(v *apierr.Violations, field string, t *typev1.TimeOfDay, required bool) {
	switch {
	case t == nil:
		if required {
			v.Add(field, "is required")
		}
	case t.Hours < 0 || t.Hours > 23 || t.Minutes < 0 || t.Minutes > 59:
		v.Add(field, "must be a time of day, 00:00-23:59")
	}
}

func validateHarvestStart(v *apierr.Violations, f string, h *profilesv1.HarvestStart, sys typev1.ExternalSystem, now time.Time) {
	if h == nil {
		return
	}
	if h.Date == nil {
		v.Add(f+"date", "is required")
	} else if d, ok := calendarDate(h.Date); !ok {
		v.Add(f+"date", "must be a valid calendar date")
	} else if today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC); d.After(today) {
		v.Add(f+"date", "must not be in the future")
	} else if t := h.Time; t != nil && d.Equal(today) && t.Hours*60+t.Minutes > int32(now.Hour()*60+now.Minute()) {
		// With SECOND granularity the start is an instant: today, later than now, is future too.
		v.Add(f+"time", "must not be in the future")
	}
	switch h.Granularity {
	case profilesv1.HarvestGranularity_HARVEST_GRANULARITY_DAY:
	case profilesv1.HarvestGranularity_HARVEST_GRANULARITY_SECOND:
		if s, ok := external.Lookup(sys); ok && s.WholeDays {
			v.Add(f+"granularity", "%s harvests by whole days: use DAY", s.Name)
		}
	default:
		v.Add(f+"granularity", "must be DAY or SECOND")
	}
	if h.Time != nil && h.Granularity != profilesv1.HarvestGranularity_HARVEST_GRANULARITY_SECOND {
		v.Add(f+"time", "is only allowed with SECOND granularity")
	}
	timeOfDay(v, f+"time", h.Time, false)
}

func calendarDate(d *typev1.Date) (time.Time, bool) {
	if d.Year < 1900 || d.Year > 9999 || d.Month < 1 || d.Month > 12 || d.Day < 1 {
		return time.Time{}, false
	}
	t := time.Date(int(d.Year), time.Month(d.Month), int(d.Day), 0, 0, 0, 0, time.UTC)
	return t, t.Day() == int(d.Day) // time.Date normalises 31 April to 1 May
}

// readiness names what a run still needs; a profile is runnable when nothing is missing.
// keyUsable says whether its credential is stored and sealed to the origin of its
// current base URL: a credential entered for another origin is missing (api_key), even
// though api_key_set stays true.
func readiness(p *profilesv1.IntegrationProfile, keyUsable bool) *profilesv1.Readiness {
	var missing []string
	if sys, ok := external.Of(p); !ok {
		missing = append(missing, "system")
	} else if _, ok := sys.Settings(p); !ok {
		missing = append(missing, string(sys.Block))
	}
	if p.ResourceSharingLibrary == "" {
		missing = append(missing, "resource_sharing_library")
	}
	if !keyUsable {
		missing = append(missing, "api_key")
	}
	if p.HarvestStart == nil {
		missing = append(missing, "harvest_start")
	}
	return &profilesv1.Readiness{Runnable: len(missing) == 0, MissingFields: missing}
}
