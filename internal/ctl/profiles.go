package ctl

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"sigs.k8s.io/yaml"

	"github.com/interloan/interloan/external"
	"github.com/interloan/interloan/external/connector"
	"github.com/interloan/interloan/external/libris"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
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
	p := &profilesv1.IntegrationProfile{}
	err := e.call(profilesv1.ProfileService_GetIntegrationProfile_FullMethodName,
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
	p := &profilesv1.IntegrationProfile{}
	if _, err := e.readFile(p); err != nil {
		return err
	}
	if _, err := e.applyProfileFlags(p); err != nil {
		return err
	}
	if p.Code == "" && p.DisplayName == "" {
		return usagef("give the profile with -f FILE or at least --code and --display-name")
	}
	created := &profilesv1.IntegrationProfile{}
	err := e.call(profilesv1.ProfileService_CreateIntegrationProfile_FullMethodName,
		&profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: p, RequestId: e.o.requestID, ValidateOnly: e.o.validateOnly}, created)
	if err != nil {
		return err
	}
	e.validOnly()
	return e.out.print(created, func() view { return profileDetail(created) })
}

// validOnly tells a person that --validate-only stored nothing.
func (e *env) validOnly() {
	if e.o.validateOnly && e.out.format == formatTable {
		fmt.Fprintln(e.stderr, "valid; nothing was stored (--validate-only)")
	}
}

// bindProfileFields binds the flags that set a profile's fields, for create and update.
func bindProfileFields(set *pflag.FlagSet, o *opts) {
	c := &o.create
	set.StringVarP(&o.file, "file", "f", "", "the profile as JSON or YAML (the API's IntegrationProfile; - for stdin); flags below override its fields")
	set.StringVar(&c.displayName, "display-name", "", "display name")
	set.StringVar(&c.description, "description", "", "description")
	set.StringVar(&c.system, "system", "", "external system: libris or netpunkt")
	set.StringVar(&c.baseURL, "base-url", "", "the external API's base URL")
	set.StringVar(&c.libraryCode, "library-code", "", "our library's code there (Libris sigel, Netpunkt agency id)")
	set.StringVar(&c.resourceSharingLibrary, "resource-sharing-library", "", "local library code that owns the imported requests")
	set.StringVar(&c.harvestStart, "harvest-start", "", "first date to import from, YYYY-MM-DD")
	set.StringVar(&c.timeZone, "time-zone", "", "IANA time zone of the schedule and harvest start (default UTC)")
	set.StringVar(&c.daily, "daily", "", "run every day at HH:MM")
	set.IntVar(&c.intervalMinutes, "interval-minutes", 0, "run every N minutes")
	set.BoolVar(&c.active, "active", false, "run on schedule")
	set.BoolVar(&c.requireAuthentication, "require-authentication", false, "import a request only once its patron is approved")
	set.BoolVar(&o.validateOnly, "validate-only", false, "check the profile, store nothing")
}

func bindProfileCreate(set *pflag.FlagSet, o *opts) {
	bindProfileFields(set, o)
	set.StringVar(&o.create.code, "code", "", "profile code, its ID")
	set.StringVar(&o.create.apiKeyFile, "api-key-file", "", "file holding the external API key (never given on the command line)")
	set.StringVar(&o.requestID, "request-id", "", "idempotency key: repeating the create returns the first result")
}

func bindProfileUpdate(set *pflag.FlagSet, o *opts) {
	bindProfileFields(set, o)
	bindEtag(set, o)
}

// readFile reads -f into m, strictly: a misspelt field is an error, not silently
// dropped. It returns the top-level fields the file sets (nothing without -f).
func (e *env) readFile(m proto.Message) ([]string, error) {
	if e.o.file == "" {
		return nil, nil
	}
	b, err := readInput(e.o.file, e.stdin)
	if err != nil {
		return nil, usagef("-f: %v", err)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, usagef("-f %s: not JSON or YAML: %v", e.o.file, err)
	}
	if err := protojson.Unmarshal(j, m); err != nil {
		return nil, usagef("-f %s: not a %s: %v", e.o.file, m.ProtoReflect().Descriptor().Name(), err)
	}
	var fields []string
	m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		fields = append(fields, string(fd.Name()))
		return true
	})
	return fields, nil
}

// applyProfileFlags sets the fields given as flags on p and returns their top-level
// field names (the update mask).
func (e *env) applyProfileFlags(p *profilesv1.IntegrationProfile) ([]string, error) {
	c := e.o.create
	var mask []string
	set := func(flag, field string, apply func()) {
		if e.given(flag) {
			apply()
			mask = appendNew(mask, field)
		}
	}
	set("code", "code", func() { p.Code = c.code })
	set("display-name", "display_name", func() { p.DisplayName = c.displayName })
	set("description", "description", func() { p.Description = c.description })
	set("resource-sharing-library", "resource_sharing_library", func() { p.ResourceSharingLibrary = c.resourceSharingLibrary })
	set("active", "active", func() { p.Active = c.active })
	set("require-authentication", "require_authentication", func() { p.RequireAuthentication = c.requireAuthentication })
	if e.given("system") {
		s, err := parseEnum[typev1.ExternalSystem](c.system, "--system")
		if err != nil {
			return nil, err
		}
		p.System = s
		mask = appendNew(mask, "system")
	}
	if e.given("base-url") || e.given("library-code") {
		mask = appendNew(mask, string(setSystemConfig(p, c)))
	}
	if c.apiKeyFile != "" {
		b, err := os.ReadFile(c.apiKeyFile)
		if err != nil {
			return nil, usagef("--api-key-file: %v", err)
		}
		if p.ApiKey = strings.TrimSpace(string(b)); p.ApiKey == "" {
			return nil, usagef("--api-key-file %s is empty", c.apiKeyFile)
		}
		mask = appendNew(mask, "api_key")
	}
	if e.given("harvest-start") {
		d, err := time.Parse(time.DateOnly, c.harvestStart)
		if err != nil {
			return nil, usagef("--harvest-start %q: want YYYY-MM-DD", c.harvestStart)
		}
		if p.HarvestStart == nil {
			p.HarvestStart = &profilesv1.HarvestStart{}
		}
		p.HarvestStart.Date = &typev1.Date{Year: int32(d.Year()), Month: int32(d.Month()), Day: int32(d.Day())}
		mask = appendNew(mask, "harvest_start")
	}
	changed, err := setSchedule(p, c, e.given)
	if err != nil {
		return nil, err
	}
	if changed {
		mask = appendNew(mask, "schedule")
	}
	return mask, nil
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// profilesUpdate reads the profile, applies -f and the flags, and writes back exactly
// the fields they name, guarded by the etag read (or --etag).
func profilesUpdate(e *env, pos []string) error {
	if err := wantArgs(pos, "CODE"); err != nil {
		return err
	}
	in := &profilesv1.IntegrationProfile{}
	fileFields, err := e.readFile(in)
	if err != nil {
		return err
	}
	name := resourceName("integrationProfiles", pos[0])
	cur := &profilesv1.IntegrationProfile{}
	if err := e.call(profilesv1.ProfileService_GetIntegrationProfile_FullMethodName, &profilesv1.GetIntegrationProfileRequest{Name: name}, cur); err != nil {
		return err
	}
	mask := replaceFields(cur, in, fileFields)
	flagFields, err := e.applyProfileFlags(cur)
	if err != nil {
		return err
	}
	for _, f := range flagFields {
		mask = appendNew(mask, f)
	}
	if len(mask) == 0 {
		return usagef("nothing to change: give the fields to change as flags or in -f FILE")
	}
	cur.Etag = cmp.Or(e.o.etag, cur.Etag)
	return e.updateProfile(cur, mask)
}

// replaceFields sets each top-level field of dst named in fields to src's value, and
// returns fields as an update mask.
func replaceFields(dst, src proto.Message, fields []string) []string {
	d, s := dst.ProtoReflect(), src.ProtoReflect()
	for _, f := range fields {
		fd := d.Descriptor().Fields().ByName(protoreflect.Name(f))
		d.Set(fd, s.Get(fd))
	}
	return append([]string(nil), fields...)
}

func (e *env) updateProfile(p *profilesv1.IntegrationProfile, mask []string) error {
	updated := &profilesv1.IntegrationProfile{}
	err := e.call(profilesv1.ProfileService_UpdateIntegrationProfile_FullMethodName,
		&profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: p, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask}, ValidateOnly: e.o.validateOnly}, updated)
	if err != nil {
		return err
	}
	e.validOnly()
	return e.out.print(updated, func() view { return profileDetail(updated) })
}

// profilesActivate sets a profile's active field alone.
func profilesActivate(active bool) func(*env, []string) error {
	return func(e *env, pos []string) error {
		if err := wantArgs(pos, "CODE"); err != nil {
			return err
		}
		p := &profilesv1.IntegrationProfile{Name: resourceName("integrationProfiles", pos[0]), Active: active, Etag: e.o.etag}
		return e.updateProfile(p, []string{"active"})
	}
}

// profilesSetKey sets the API key or the receipt password from a file or stdin. The
// secret is sent once and shown nowhere: not echoed, not in the answer (input only).
func profilesSetKey(e *env, pos []string) error {
	if err := wantArgs(pos, "CODE"); err != nil {
		return err
	}
	field, what := "api_key", "API key"
	if e.o.receiptPassword {
		field, what = "receipt_password", "receipt password"
	}
	secret, err := e.readSecret(what)
	if err != nil {
		return err
	}
	p := &profilesv1.IntegrationProfile{Name: resourceName("integrationProfiles", pos[0]), Etag: e.o.etag}
	if e.o.receiptPassword {
		p.ReceiptPassword = secret
	} else {
		p.ApiKey = secret
	}
	return e.updateProfile(p, []string{field})
}

// maxSecret bounds a secret read from a file or stdin.
const maxSecret = 64 << 10

// readSecret reads one secret: the file's content or stdin's first line, trimmed. At a
// terminal the typing is not echoed.
func (e *env) readSecret(what string) (string, error) {
	var b []byte
	var err error
	switch f, isFile := e.stdin.(*os.File); {
	case e.o.fromFile != "":
		b, err = os.ReadFile(e.o.fromFile)
		if err != nil {
			return "", usagef("--from-file: %v", err)
		}
	case isFile && term.IsTerminal(int(f.Fd())):
		fmt.Fprintf(e.stderr, "%s (not echoed): ", what)
		b, err = term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("reading the %s: %w", what, err)
		}
	default:
		line, rerr := bufio.NewReader(io.LimitReader(e.stdin, maxSecret)).ReadString('\n')
		if rerr != nil && rerr != io.EOF {
			return "", fmt.Errorf("reading the %s from stdin: %w", what, rerr)
		}
		b = []byte(line)
	}
	secret := strings.TrimSpace(string(b))
	if secret == "" {
		return "", usagef("no %s given: put it in --from-file FILE or on stdin", what)
	}
	if strings.ContainsAny(secret, "\r\n") {
		return "", usagef("the %s must be one line", what)
	}
	return secret, nil
}

// setSystemConfig fills the system's configuration block from the flags given (empty
// ones keep what the block holds) and returns the block's field name; the system comes
// from --system or the profile, and is Libris when neither says.
func setSystemConfig(p *profilesv1.IntegrationProfile, c profileFlags) protoreflect.Name {
	sys, ok := external.Of(p)
	if !ok {
		sys = libris.System
		p.System = sys.Enum
	}
	sys.SetSettings(p, connector.Settings{BaseURL: c.baseURL, LibraryCode: c.libraryCode})
	return sys.Block
}

// setSchedule applies --daily, --interval-minutes and --time-zone and reports whether
// any was given.
func setSchedule(p *profilesv1.IntegrationProfile, c profileFlags, given func(string) bool) (bool, error) {
	if given("daily") && given("interval-minutes") {
		return false, usagef("give --daily or --interval-minutes, not both")
	}
	if !given("daily") && !given("interval-minutes") && !given("time-zone") {
		return false, nil
	}
	if p.Schedule == nil {
		p.Schedule = &profilesv1.Schedule{}
	}
	if given("time-zone") {
		p.Schedule.TimeZone = c.timeZone
	}
	switch {
	case given("daily"):
		t, err := time.Parse("15:04", c.daily)
		if err != nil {
			return false, usagef("--daily %q: want HH:MM", c.daily)
		}
		p.Schedule.Kind = &profilesv1.Schedule_Daily{Daily: &profilesv1.DailySchedule{
			Time: &typev1.TimeOfDay{Hours: int32(t.Hour()), Minutes: int32(t.Minute())}}}
	case given("interval-minutes"):
		// The server checks the range; the CLI does not keep a second copy of it.
		p.Schedule.Kind = &profilesv1.Schedule_Interval{Interval: &profilesv1.IntervalSchedule{Minutes: int32(c.intervalMinutes)}}
	}
	return true, nil
}

// readInput reads a file, or stdin for "-".
func readInput(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(io.LimitReader(stdin, maxResponse))
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
