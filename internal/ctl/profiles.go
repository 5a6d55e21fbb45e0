package ctl

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"

	"github.com/interloan/interloan/external"
	"github.com/interloan/interloan/external/connector"
	"github.com/interloan/interloan/external/libris"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/config"
)

// profileFlags describe a profile on the command line, for the common Libris case; a
// file (-f) can say everything the API accepts.
type profileFlags struct {
	code, displayName, description, system, baseURL, libraryCode string
	resourceSharingLibrary, apiKeyFile, harvestStart, timeZone   string
	daily                                                        string
	intervalMinutes                                              int
	active, requireAuthentication                                bool
}

func profilesList(e *env, pos []string) error {
	if err := wantArgs(pos); err != nil {
		return err
	}
	system, err := e.systemFilter()
	if err != nil {
		return err
	}
	req := &profilesv1.ListIntegrationProfilesRequest{ActiveOnly: e.o.activeOnly, System: system}
	resp := &profilesv1.ListIntegrationProfilesResponse{}
	if err := e.list(profilesv1.ProfileService_ListIntegrationProfiles_FullMethodName, req, resp); err != nil {
		return err
	}
	return e.out.print(resp, func() view {
		t := table{header: []string{"CODE", "DISPLAY NAME", "SYSTEM", "ACTIVE", "RUNNABLE", "SCHEDULE", "UPDATED"}}
		for _, p := range resp.GetIntegrationProfiles() {
			t.rows = append(t.rows, []string{p.GetCode(), p.GetDisplayName(), enumName(p.GetSystem()),
				yesNo(p.GetActive()), yesNo(p.GetReadiness().GetRunnable()), schedule(p.GetSchedule()), when(p.GetUpdateTime())})
		}
		return t
	})
}

func profilesGet(e *env, pos []string) error {
	if err := wantArgs(pos, "CODE"); err != nil {
		return err
	}
	ctx, cancel := e.unary()
	defer cancel()
	p := &profilesv1.IntegrationProfile{}
	err := e.client.call(ctx, profilesv1.ProfileService_GetIntegrationProfile_FullMethodName,
		&profilesv1.GetIntegrationProfileRequest{Name: resourceName("integrationProfiles", pos[0])}, p)
	if err != nil {
		return err
	}
	return e.out.print(p, func() view { return profileDetail(p) })
}

func profilesCreate(e *env, pos []string) error {
	if err := wantArgs(pos); err != nil {
		return err
	}
	p, err := e.profileFromInput()
	if err != nil {
		return err
	}
	ctx, cancel := e.unary()
	defer cancel()
	created := &profilesv1.IntegrationProfile{}
	err = e.client.call(ctx, profilesv1.ProfileService_CreateIntegrationProfile_FullMethodName,
		&profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: p, RequestId: e.o.requestID, ValidateOnly: e.o.validateOnly}, created)
	if err != nil {
		return err
	}
	if e.o.validateOnly && e.out.format == formatTable {
		fmt.Fprintln(e.stderr, "valid; nothing was stored (--validate-only)")
	}
	return e.out.print(created, func() view { return profileDetail(created) })
}

func bindProfileCreate(set *config.Set, o *opts) {
	c := &o.create
	set.StringVar(&o.file, "f", "", "the profile as JSON or YAML (the API's IntegrationProfile; - for stdin); flags below override its fields")
	set.StringVar(&c.code, "code", "", "profile code, its ID")
	set.StringVar(&c.displayName, "display-name", "", "display name")
	set.StringVar(&c.description, "description", "", "description")
	set.StringVar(&c.system, "system", "", "external system: libris or netpunkt")
	set.StringVar(&c.baseURL, "base-url", "", "the external API's base URL")
	set.StringVar(&c.libraryCode, "library-code", "", "our library's code there (Libris sigel)")
	set.StringVar(&c.resourceSharingLibrary, "resource-sharing-library", "", "local library code that owns the imported requests")
	set.StringVar(&c.apiKeyFile, "api-key-file", "", "file holding the external API key (never given on the command line)")
	set.StringVar(&c.harvestStart, "harvest-start", "", "first date to import from, YYYY-MM-DD")
	set.StringVar(&c.timeZone, "time-zone", "", "IANA time zone of the schedule and harvest start (default UTC)")
	set.StringVar(&c.daily, "daily", "", "run every day at HH:MM")
	set.IntVar(&c.intervalMinutes, "interval-minutes", 0, "run every N minutes")
	set.BoolVar(&c.active, "active", false, "run on schedule")
	set.BoolVar(&c.requireAuthentication, "require-authentication", false, "import a request only once its patron is approved")
	set.StringVar(&o.requestID, "request-id", "", "idempotency key: repeating the create returns the first result")
	set.BoolVar(&o.validateOnly, "validate-only", false, "check the profile, store nothing")
}

// profileFromInput builds the profile from -f and the flags given.
func (e *env) profileFromInput() (*profilesv1.IntegrationProfile, error) {
	p := &profilesv1.IntegrationProfile{}
	if e.o.file != "" {
		b, err := readInput(e.o.file)
		if err != nil {
			return nil, usagef("-f: %v", err)
		}
		j, err := yaml.YAMLToJSON(b)
		if err != nil {
			return nil, usagef("-f %s: not JSON or YAML: %v", e.o.file, err)
		}
		// Strict: a misspelt field is an error, not silently dropped.
		if err := protojson.Unmarshal(j, p); err != nil {
			return nil, usagef("-f %s: not an IntegrationProfile: %v", e.o.file, err)
		}
	}
	c := e.o.create
	given := e.given
	set := func(flag string, apply func()) {
		if given[flag] {
			apply()
		}
	}
	set("code", func() { p.Code = c.code })
	set("display-name", func() { p.DisplayName = c.displayName })
	set("description", func() { p.Description = c.description })
	set("resource-sharing-library", func() { p.ResourceSharingLibrary = c.resourceSharingLibrary })
	set("active", func() { p.Active = c.active })
	set("require-authentication", func() { p.RequireAuthentication = c.requireAuthentication })
	if given["system"] {
		s, err := parseEnum[typev1.ExternalSystem](c.system, "--system")
		if err != nil {
			return nil, err
		}
		p.System = s
	}
	if given["base-url"] || given["library-code"] {
		setSystemConfig(p, c)
	}
	if c.apiKeyFile != "" {
		b, err := os.ReadFile(c.apiKeyFile)
		if err != nil {
			return nil, usagef("--api-key-file: %v", err)
		}
		if p.ApiKey = strings.TrimSpace(string(b)); p.ApiKey == "" {
			return nil, usagef("--api-key-file %s is empty", c.apiKeyFile)
		}
	}
	if given["harvest-start"] {
		d, err := time.Parse(time.DateOnly, c.harvestStart)
		if err != nil {
			return nil, usagef("--harvest-start %q: want YYYY-MM-DD", c.harvestStart)
		}
		if p.HarvestStart == nil {
			p.HarvestStart = &profilesv1.HarvestStart{}
		}
		p.HarvestStart.Date = &typev1.Date{Year: int32(d.Year()), Month: int32(d.Month()), Day: int32(d.Day())}
	}
	if err := setSchedule(p, c, given); err != nil {
		return nil, err
	}
	if p.Code == "" && p.DisplayName == "" {
		return nil, usagef("give the profile with -f FILE or at least --code and --display-name")
	}
	return p, nil
}

// setSystemConfig fills the system's configuration block; the system comes from
// --system or the file, and is Libris when neither says.
func setSystemConfig(p *profilesv1.IntegrationProfile, c profileFlags) {
	sys, ok := external.Of(p)
	if !ok {
		sys = libris.System
		p.System = sys.Enum
	}
	sys.SetSettings(p, connector.Settings{BaseURL: c.baseURL, LibraryCode: c.libraryCode})
}

func setSchedule(p *profilesv1.IntegrationProfile, c profileFlags, given map[string]bool) error {
	if given["daily"] && given["interval-minutes"] {
		return usagef("give --daily or --interval-minutes, not both")
	}
	if !given["daily"] && !given["interval-minutes"] && !given["time-zone"] {
		return nil
	}
	if p.Schedule == nil {
		p.Schedule = &profilesv1.Schedule{}
	}
	if given["time-zone"] {
		p.Schedule.TimeZone = c.timeZone
	}
	switch {
	case given["daily"]:
		t, err := time.Parse("15:04", c.daily)
		if err != nil {
			return usagef("--daily %q: want HH:MM", c.daily)
		}
		p.Schedule.Kind = &profilesv1.Schedule_Daily{Daily: &profilesv1.DailySchedule{
			Time: &typev1.TimeOfDay{Hours: int32(t.Hour()), Minutes: int32(t.Minute())}}}
	case given["interval-minutes"]:
		// The server checks the range; the CLI does not keep a second copy of it.
		p.Schedule.Kind = &profilesv1.Schedule_Interval{Interval: &profilesv1.IntervalSchedule{Minutes: int32(c.intervalMinutes)}}
	}
	return nil
}

// readInput reads a file, or stdin for "-".
func readInput(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(io.LimitReader(os.Stdin, maxResponse))
	}
	return os.ReadFile(name)
}

// schedule in words, e.g. `daily 06:00 Europe/Stockholm`.
func schedule(s *profilesv1.Schedule) string {
	hm := func(t *typev1.TimeOfDay) string { return fmt.Sprintf("%02d:%02d", t.GetHours(), t.GetMinutes()) }
	var out string
	switch k := s.GetKind().(type) {
	case *profilesv1.Schedule_Daily:
		out = "daily " + hm(k.Daily.GetTime())
	case *profilesv1.Schedule_Weekly:
		out = "weekly " + enumName(k.Weekly.GetDay()) + " " + hm(k.Weekly.GetTime())
	case *profilesv1.Schedule_Interval:
		return fmt.Sprintf("every %d min", k.Interval.GetMinutes())
	default:
		return "none"
	}
	if tz := s.GetTimeZone(); tz != "" {
		out += " " + tz
	}
	return out
}

func profileDetail(p *profilesv1.IntegrationProfile) view {
	d := detail{
		{"Name", p.GetName()},
		{"Display name", p.GetDisplayName()},
		{"System", enumName(p.GetSystem())},
	}
	if p.GetDescription() != "" {
		d = append(d, field{"Description", p.GetDescription()})
	}
	if sys := external.Configured(p); sys != nil {
		set, _ := sys.Settings(p)
		d = append(d, field{sys.Name, set.BaseURL + " " + sys.CodeName + " " + set.LibraryCode})
	}
	start := "-"
	if dt := p.GetHarvestStart().GetDate(); dt != nil {
		start = fmt.Sprintf("%04d-%02d-%02d", dt.GetYear(), dt.GetMonth(), dt.GetDay())
	}
	ready := "yes"
	if !p.GetReadiness().GetRunnable() {
		ready = "no, missing " + strings.Join(p.GetReadiness().GetMissingFields(), ", ")
	}
	return append(d,
		field{"Resource sharing library", p.GetResourceSharingLibrary()},
		field{"API key set", yesNo(p.GetApiKeySet())},
		field{"Require authentication", yesNo(p.GetRequireAuthentication())},
		field{"Active", yesNo(p.GetActive())},
		field{"Harvest start", start},
		field{"Schedule", schedule(p.GetSchedule())},
		field{"Runnable", ready},
		field{"Created", when(p.GetCreateTime())},
		field{"Updated", when(p.GetUpdateTime())},
		field{"Etag", p.GetEtag()},
	)
}
