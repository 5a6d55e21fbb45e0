package ctl

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/reflect/protoreflect"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/config"
	profilesapp "github.com/interloan/interloan/services/profiles/app"
)

// command is one operator command, e.g. `runs list`.
type command struct {
	path    string // e.g. "runs list"; its parent (group or command) is built first
	aliases []string
	args    string // positional arguments, for the usage line
	brief   string
	long    string
	example string
	rpcs    []string // the gRPC full methods it calls
	run     func(*env, []string) error
	flags   func(*pflag.FlagSet, *opts)
	grpc    bool // talks to a service's gRPC port (--addr), not to the gateway
}

// group is a top-level word whose subcommands share the connection flags.
type group struct{ name, brief string }

var groups = []group{
	{"profiles", "Integration profiles: what to import from where, and when"},
	{"libraries", "Local libraries (owners of imported requests and pickup locations)"},
	{"mappings", "Library mappings: an external library code to a local library (alone: list)"},
	{"partners", "Resource-sharing partners (lenders) (alone: list)"},
	{"import", "Start import runs"},
	{"runs", "Import runs: history, reports, events, progress"},
	{"parked", "Parked requests: failed so often that runs no longer retry them"},
	{"jobs", "Scheduled import jobs"},
	{"requests", "The borrowing-request ledger and each request's lifecycle"},
	{"audit", "Audit trails of configuration changes (profiles, mapping)"},
}

// opts holds every command's own flags; each command binds the ones it uses, to an opts
// of its own.
type opts struct {
	profile, state, outcome, reasonCode, action, etag, note, partner string
	file, requestID, system, status, owner, externalID, query        string
	orderBy, localLibrary, pageToken, service, resource, startAfter  string
	fromFile, updatedAfter, updatedBefore, readMask                  string
	pageSize, olderThanDays                                          int
	all, wait, openOnly, activeOnly, needsAttention, validateOnly    bool
	receiptPassword                                                  bool
	create                                                           profileFlags
	lib                                                              libraryFlags
	mapping                                                          mappingFlags
	partnerF                                                         partnerFlags
	preview                                                          previewFlags
}

// globals are the connection and output flags of every operator command.
type globals struct {
	server, token, tokenFile, caFile, output string
	timeout                                  time.Duration
	addr, tlsCert, tlsKey                    string // gRPC commands
}

// bind adds the flags to fs, with their INTERLOAN_* environment defaults.
func (g *globals) bind(fs *pflag.FlagSet, grpc bool) {
	set := config.New("interloan")
	if grpc {
		set.String(&g.addr, "addr", "INTERLOAN_GRPC_ADDR", fmt.Sprintf("localhost:%d", profilesapp.DefaultGRPCPort), "a service's gRPC address (any service answers; the default is where interloan up serves profiles)")
		set.String(&g.tlsCert, "tls-cert", "INTERLOAN_TLS_CERT", "", "client certificate, for a service that requires one (mTLS)")
		set.String(&g.tlsKey, "tls-key", "INTERLOAN_TLS_KEY", "", "key of --tls-cert")
	} else {
		set.String(&g.server, "server", "INTERLOAN_SERVER", defaultServer, "REST gateway URL")
	}
	set.Secret(&g.token, "token", "INTERLOAN_TOKEN", "bearer token (prefer --token-file: a flag shows in the process list)")
	set.String(&g.tokenFile, "token-file", "INTERLOAN_TOKEN_FILE", "", "file holding the bearer token")
	set.String(&g.caFile, "ca-file", "INTERLOAN_CA_FILE", "", "PEM CA certificate(s) to trust for TLS (default: the system's; interloan up: data/tls/ca.crt)")
	set.String(&g.output, "output", "INTERLOAN_OUTPUT", formatTable, "output format: table, json or yaml")
	set.Duration(&g.timeout, "timeout", "INTERLOAN_TIMEOUT", 30*time.Second, "limit of each call (watching has none)")
	BindEnv(fs, set, map[string]string{"output": "o"})
}

// Register adds the operator commands to root.
func Register(root *cobra.Command) {
	built := map[string]*cobra.Command{}
	shared := map[string]*globals{} // each group's connection flags, shared by its subcommands
	for _, g := range groups {
		cmd := Group(g.name, g.brief)
		shared[g.name] = new(globals)
		shared[g.name].bind(cmd.PersistentFlags(), false)
		root.AddCommand(cmd)
		built[g.name] = cmd
	}
	for _, c := range commands() {
		cut := strings.LastIndexByte(c.path, ' ')
		parent, name := root, c.path
		if cut >= 0 {
			parent, name = built[c.path[:cut]], c.path[cut+1:]
		}
		if parent == nil {
			panic("ctl: no parent for " + c.path) // a mistake in the table, caught by every test
		}
		g, _, _ := strings.Cut(c.path, " ")
		cmd := c.build(name, shared[g])
		parent.AddCommand(cmd)
		built[c.path] = cmd
	}
	// `interloan mappings` and `interloan partners` alone list them.
	for _, g := range []string{"mappings", "partners"} {
		list := built[g+" list"]
		built[g].RunE = func(cmd *cobra.Command, args []string) error { return list.RunE(cmd, args) }
		rpcs(built[g], strings.Split(list.Annotations[AnnotationRPC], ",")...)
	}
}

// build makes the cobra command of c. g is its group's connection flags; a command
// outside any group binds its own.
func (c command) build(name string, g *globals) *cobra.Command {
	o := &opts{}
	use := name
	if c.args != "" {
		use += " " + c.args
	}
	cmd := &cobra.Command{
		Use:     use,
		Aliases: c.aliases,
		Short:   c.brief,
		Long:    c.long,
		Example: c.example,
		Args:    cobra.ArbitraryArgs, // each command checks its own, with usage errors
	}
	if c.long == "" {
		cmd.Long = c.brief + "."
	}
	rpcs(cmd, c.rpcs...)
	if c.flags != nil {
		c.flags(cmd.Flags(), o)
	}
	if g == nil {
		g = new(globals)
		g.bind(cmd.Flags(), c.grpc)
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		e, err := newEnv(cmd, c, o, g)
		if err != nil {
			return err
		}
		err = c.run(e, args)
		var api *apiError
		if errors.As(err, &api) && api.code == "UNAUTHENTICATED" && e.g.token == "" {
			err = fmt.Errorf("%w\n  (no token was sent: give --token-file or INTERLOAN_TOKEN_FILE, or --token or INTERLOAN_TOKEN)", err)
		}
		return err
	}
	return cmd
}

// newEnv checks the connection and output flags and builds what the command runs with;
// its errors are usage errors (nothing was sent).
func newEnv(cmd *cobra.Command, c command, o *opts, g *globals) (*env, error) {
	output := g.output
	if output == "" {
		output = formatTable // INTERLOAN_OUTPUT set but empty
	}
	if !slices.Contains([]string{formatTable, formatJSON, formatYAML}, output) {
		return nil, usagef("--output %q: want table, json or yaml", output)
	}
	if g.timeout <= 0 {
		return nil, usagef("--timeout must be positive")
	}
	given := func(name string) bool { f := cmd.Flags().Lookup(name); return f != nil && f.Changed }
	token, err := ChooseToken(given, g.token, g.tokenFile)
	if err != nil {
		return nil, usagef("%v", err)
	}
	g.token = token
	stderr := cmd.ErrOrStderr()
	e := &env{ctx: cmd.Context(), g: g, out: printer{format: output, w: cmd.OutOrStdout()}, stdin: cmd.InOrStdin(),
		stderr: stderr, tty: IsTerminal(stderr), timeout: g.timeout, o: o, given: given}
	if c.grpc {
		if err := checkToken(token); err != nil {
			return nil, usagef("%v", err)
		}
		return e, nil
	}
	e.client, err = newClient(clientConfig{server: g.server, token: token, caFile: g.caFile})
	if err != nil {
		return nil, usagef("%v", err)
	}
	if e.client.plainTextToRemote() {
		fmt.Fprintf(stderr, "%s: warning: sending the token over plain http to %s; use https\n", cmd.CommandPath(), e.client.base.Host)
	}
	return e, nil
}

// commands is every operator command. The RPC each calls is named from the generated
// code, so a renamed RPC fails to compile here.
func commands() []command {
	cs := []command{
		// Profiles.
		{path: "profiles list", brief: "List integration profiles", run: profilesList,
			rpcs: []string{profilesv1.ProfileService_ListIntegrationProfiles_FullMethodName},
			flags: func(s *pflag.FlagSet, o *opts) {
				bindPaging(s, o)
				s.StringVar(&o.system, "system", "", "only this system: libris or netpunkt")
				s.BoolVar(&o.activeOnly, "active-only", false, "only active profiles")
			}},
		{path: "profiles get", args: "CODE", brief: "Show a profile", run: profilesGet,
			rpcs: []string{profilesv1.ProfileService_GetIntegrationProfile_FullMethodName}},
		{path: "profiles create", brief: "Create a profile from flags or a file (-f)", run: profilesCreate,
			rpcs:    []string{profilesv1.ProfileService_CreateIntegrationProfile_FullMethodName},
			flags:   bindProfileCreate,
			example: "  interloan profiles create --code libris-abc --display-name 'Libris Abc' --base-url https://iller.libris.kb.se/librisfjarrlan/api \\\n    --library-code Abc --resource-sharing-library MAIN --api-key-file abc.key --harvest-start 2026-01-01 --daily 06:00 --active"},
		{path: "profiles update", args: "CODE", brief: "Change the fields given (flags or -f); the update mask is exactly those fields",
			long: "Change a profile: the fields given as flags, or present in -f FILE, and no others (the update mask is\n" +
				"built from them). The profile is read first; its etag (or --etag) makes the update fail with ABORTED\n" +
				"if someone changed the profile meanwhile. Secrets are set with `profiles set-key`.",
			run:   profilesUpdate,
			rpcs:  []string{profilesv1.ProfileService_GetIntegrationProfile_FullMethodName, profilesv1.ProfileService_UpdateIntegrationProfile_FullMethodName},
			flags: bindProfileUpdate},
		{path: "profiles activate", args: "CODE", brief: "Make a profile run on its schedule", run: profilesActivate(true),
			rpcs: []string{profilesv1.ProfileService_UpdateIntegrationProfile_FullMethodName}, flags: bindEtag},
		{path: "profiles deactivate", args: "CODE", brief: "Stop a profile's scheduled runs", run: profilesActivate(false),
			rpcs: []string{profilesv1.ProfileService_UpdateIntegrationProfile_FullMethodName}, flags: bindEtag},
		{path: "profiles set-key", args: "CODE", brief: "Set a profile's API key (or receipt password) from stdin or a file; never echoed",
			long: "Set the credential of a profile: its API key, or with --receipt-password the password Netpunkt sends\n" +
				"with pushed receipts. The secret is read from --from-file or from stdin (one line; typed at a\n" +
				"terminal it is not echoed), never from a flag value that would land in the shell's history.",
			example: "  interloan profiles set-key libris-abc --from-file abc.key\n  interloan profiles set-key libris-abc < abc.key",
			run:     profilesSetKey,
			rpcs:    []string{profilesv1.ProfileService_UpdateIntegrationProfile_FullMethodName},
			flags: func(s *pflag.FlagSet, o *opts) {
				bindEtag(s, o)
				s.StringVar(&o.fromFile, "from-file", "", "file holding the secret (default: stdin)")
				s.BoolVar(&o.receiptPassword, "receipt-password", false, "set the receipt password (Netpunkt) instead of the API key")
			}},
		{path: "profiles delete", args: "CODE", brief: "Delete a profile", run: deleteOf("integrationProfiles", profilesv1.ProfileService_DeleteIntegrationProfile_FullMethodName,
			func(name, etag string) protoMessage {
				return &profilesv1.DeleteIntegrationProfileRequest{Name: name, Etag: etag}
			}),
			rpcs: []string{profilesv1.ProfileService_DeleteIntegrationProfile_FullMethodName}, flags: bindEtag},

		// Libraries, mappings, partners.
		{path: "libraries list", brief: "List local libraries", run: librariesList,
			rpcs: []string{mappingv1.MappingService_ListLibraries_FullMethodName}, flags: bindPaging},
		{path: "libraries get", args: "CODE", brief: "Show a library", run: librariesGet,
			rpcs: []string{mappingv1.MappingService_GetLibrary_FullMethodName}},
		{path: "libraries create", args: "CODE", brief: "Create a library", run: librariesCreate,
			rpcs: []string{mappingv1.MappingService_CreateLibrary_FullMethodName}, flags: bindLibrary(true)},
		{path: "libraries update", args: "CODE", brief: "Change the fields given; the update mask is exactly those fields", run: librariesUpdate,
			rpcs: []string{mappingv1.MappingService_GetLibrary_FullMethodName, mappingv1.MappingService_UpdateLibrary_FullMethodName}, flags: bindLibrary(false)},
		{path: "libraries delete", args: "CODE", brief: "Delete a library", run: deleteOf("libraries", mappingv1.MappingService_DeleteLibrary_FullMethodName,
			func(name, etag string) protoMessage { return &mappingv1.DeleteLibraryRequest{Name: name, Etag: etag} }),
			rpcs: []string{mappingv1.MappingService_DeleteLibrary_FullMethodName}, flags: bindEtag},

		{path: "mappings list", brief: "List library mappings (external code → local library)", run: mappingsList,
			rpcs: []string{mappingv1.MappingService_ListLibraryMappings_FullMethodName},
			flags: func(s *pflag.FlagSet, o *opts) {
				bindPaging(s, o)
				s.StringVar(&o.system, "system", "", "only this system: libris or netpunkt")
				s.StringVar(&o.localLibrary, "local-library", "", "only mappings to this local library code")
			}},
		{path: "mappings get", args: "ID", brief: "Show a library mapping", run: mappingsGet,
			rpcs: []string{mappingv1.MappingService_GetLibraryMapping_FullMethodName}},
		{path: "mappings create", brief: "Map an external library code to a local library", run: mappingsCreate,
			rpcs: []string{mappingv1.MappingService_CreateLibraryMapping_FullMethodName}, flags: bindMapping(true),
			example: "  interloan mappings create --system libris --external-code Abc --local-library MAIN"},
		{path: "mappings update", args: "ID", brief: "Point a mapping at another local library", run: mappingsUpdate,
			rpcs: []string{mappingv1.MappingService_GetLibraryMapping_FullMethodName, mappingv1.MappingService_UpdateLibraryMapping_FullMethodName}, flags: bindMapping(false)},
		{path: "mappings delete", args: "ID", brief: "Delete a library mapping", run: deleteOf("libraryMappings", mappingv1.MappingService_DeleteLibraryMapping_FullMethodName,
			func(name, etag string) protoMessage {
				return &mappingv1.DeleteLibraryMappingRequest{Name: name, Etag: etag}
			}),
			rpcs: []string{mappingv1.MappingService_DeleteLibraryMapping_FullMethodName}, flags: bindEtag},
		{path: "mappings resolve", args: "CODE...", brief: "Resolve external library codes of a system as an import would", run: mappingsResolve,
			rpcs: []string{mappingv1.MappingService_ResolveLibraryCodes_FullMethodName},
			flags: func(s *pflag.FlagSet, o *opts) {
				s.StringVar(&o.system, "system", "", "the codes' system: libris or netpunkt (required)")
			}},

		{path: "partners list", brief: "List resource-sharing partners", run: partnersList,
			rpcs: []string{mappingv1.MappingService_ListPartners_FullMethodName},
			flags: func(s *pflag.FlagSet, o *opts) {
				bindPaging(s, o)
				s.StringVar(&o.system, "system", "", "only this system: libris or netpunkt")
				s.StringVar(&o.status, "status", "", "only this status: active or inactive")
			}},
		{path: "partners get", args: "CODE", brief: "Show a partner", run: partnersGet,
			rpcs: []string{mappingv1.MappingService_GetPartner_FullMethodName}},
		{path: "partners create", args: "CODE", brief: "Create a partner", run: partnersCreate,
			rpcs: []string{mappingv1.MappingService_CreatePartner_FullMethodName}, flags: bindPartner(true)},
		{path: "partners update", args: "CODE", brief: "Change the fields given; the update mask is exactly those fields", run: partnersUpdate,
			rpcs: []string{mappingv1.MappingService_GetPartner_FullMethodName, mappingv1.MappingService_UpdatePartner_FullMethodName}, flags: bindPartner(false)},
		{path: "partners delete", args: "CODE", brief: "Delete a partner", run: deleteOf("partners", mappingv1.MappingService_DeletePartner_FullMethodName,
			func(name, etag string) protoMessage { return &mappingv1.DeletePartnerRequest{Name: name, Etag: etag} }),
			rpcs: []string{mappingv1.MappingService_DeletePartner_FullMethodName}, flags: bindEtag},
		{path: "partners resolve", args: "CODE...", brief: "Resolve partner codes as an import would", run: partnersResolve,
			rpcs: []string{mappingv1.MappingService_ResolvePartnerCodes_FullMethodName}},

		// Runs.
		{path: "import run", brief: "Start an import run now; --wait shows its progress until it ends", run: importRun,
			rpcs: []string{harvesterv1.HarvesterService_StartRun_FullMethodName, harvesterv1.HarvesterService_WatchRun_FullMethodName}, flags: bindStart},
		{path: "runs start", brief: "Start an import run now (as import run)", run: importRun,
			rpcs: []string{harvesterv1.HarvesterService_StartRun_FullMethodName, harvesterv1.HarvesterService_WatchRun_FullMethodName}, flags: bindStart},
		{path: "runs list", brief: "List runs newest first (the job history)", run: runsList,
			rpcs: []string{harvesterv1.HarvesterService_ListRuns_FullMethodName},
			flags: func(s *pflag.FlagSet, o *opts) {
				bindPaging(s, o)
				s.StringVar(&o.profile, "profile", "", "only runs of this profile")
				s.StringVar(&o.state, "state", "", "only runs in this state, e.g. failed, completed-success")
			}},
		{path: "runs get", aliases: []string{"report"}, args: "RUN", brief: "A run's report: state, window, counters, alerts, and what was not imported", run: runsReport,
			rpcs: []string{harvesterv1.HarvesterService_GetRun_FullMethodName, harvesterv1.HarvesterService_ListRunEvents_FullMethodName}},
		{path: "runs events", args: "RUN", brief: "A run's events, one per external request", run: runsEvents,
			rpcs: []string{harvesterv1.HarvesterService_ListRunEvents_FullMethodName},
			flags: func(s *pflag.FlagSet, o *opts) {
				bindPaging(s, o)
				s.StringVar(&o.outcome, "outcome", "", "only this outcome: created, updated, unchanged, skipped, failed")
				s.StringVar(&o.reasonCode, "reason-code", "", "only this reason, e.g. PARTNER_UNKNOWN")
			}},
		{path: "runs watch", args: "RUN", brief: "Follow a run's progress until it ends (exit codes as import run --wait)", run: runsWatch,
			rpcs: []string{harvesterv1.HarvesterService_WatchRun_FullMethodName}},
		{path: "runs cancel", args: "RUN", brief: "Ask a pending or running run to stop", run: runsCancel,
			rpcs: []string{harvesterv1.HarvesterService_CancelRun_FullMethodName}},
		{path: "parked list", brief: "List a profile's parked requests", run: parkedList,
			rpcs: []string{harvesterv1.HarvesterService_ListParkedItems_FullMethodName},
			flags: func(s *pflag.FlagSet, o *opts) {
				bindPaging(s, o)
				s.StringVar(&o.profile, "profile", "", "the profile (required)")
			}},
		{path: "parked retry", args: "EXTERNAL-ID...", brief: "Put parked requests back in the retry set; the next run imports them again", run: parkedRetry,
			rpcs: []string{harvesterv1.HarvesterService_RetryParkedItem_FullMethodName},
			flags: func(s *pflag.FlagSet, o *opts) {
				s.StringVar(&o.profile, "profile", "", "the profile (required unless each argument is a full integrationProfiles/P/parkedItems/ID)")
			}},
		{path: "jobs list", brief: "List the scheduled import jobs with their next run times", run: jobsList,
			rpcs: []string{harvesterv1.HarvesterService_ListScheduledJobs_FullMethodName}, flags: bindPaging},

		// Requests.
		{path: "requests list", brief: "List borrowing requests, most recently changed first", run: requestsList,
			rpcs: []string{requestsv1.RequestService_ListBorrowingRequests_FullMethodName},
			flags: func(s *pflag.FlagSet, o *opts) {
				bindPaging(s, o)
				bindFilter(s, o)
				s.StringVar(&o.externalID, "external-id", "", "only the request with this external id")
				s.StringVar(&o.orderBy, "order-by", "", "update_time desc (default), update_time, create_time desc or create_time")
				s.StringVar(&o.readMask, "read-mask", "", "only these fields of each request, e.g. name,external_reference.external_id (the table leaves the others empty)")
			}},
		{path: "requests get", args: "ID", brief: "Show a borrowing request", run: requestsGet,
			rpcs: []string{requestsv1.RequestService_GetBorrowingRequest_FullMethodName}},
		{path: "requests count", brief: "Count requests: total, open, needing attention, per status", run: requestsCount,
			rpcs: []string{requestsv1.RequestService_CountBorrowingRequests_FullMethodName},
			flags: func(s *pflag.FlagSet, o *opts) {
				s.StringVar(&o.owner, "owner", "", "only requests of this owning library code")
			}},
		{path: "requests actions", args: "ID", brief: "The actions a request allows now, with its etag", run: requestsActions,
			rpcs: []string{requestsv1.RequestService_ListAllowedActions_FullMethodName}},
		{path: "requests events", args: "ID", brief: "A request's audit trail: every status change, note and action", run: requestsEvents,
			rpcs: []string{requestsv1.RequestService_ListRequestEvents_FullMethodName}, flags: bindPaging},
		{path: "requests watch", brief: "Follow changes to the ledger as they happen (until Ctrl-C)", run: requestsWatch,
			rpcs: []string{requestsv1.RequestService_WatchBorrowingRequests_FullMethodName},
			flags: func(s *pflag.FlagSet, o *opts) {
				s.StringVar(&o.startAfter, "start-after", "", "resume after this position (a previous change's position)")
				s.StringVar(&o.owner, "owner", "", "only requests of this owning library code")
				s.StringVar(&o.status, "status", "", "only changes into this status")
			}},
		{path: "requests act", args: "ID --action A", brief: "Perform a lifecycle action named by --action (or use the action's own subcommand)",
			long: "Perform a lifecycle action on a request. Each action is also a subcommand of its own:\n" +
				"`interloan requests act receive-physically 7` is `interloan requests act 7 --action receive-physically`.",
			run: requestsAct, rpcs: allActionRPCs(),
			flags: func(s *pflag.FlagSet, o *opts) {
				s.StringVar(&o.action, "action", "", "the action, e.g. mark-ready-to-send, send, receive-physically, add-note")
				bindAct(s, o, true)
			}},
		{path: "requests batch", args: "[ID[=ETAG]...]", brief: "Perform one action on many requests: the IDs given, or those matching the filter flags",
			long: "Perform one lifecycle action on many requests, each on its own (one failing does not stop the others):\n" +
				"the IDs given (ID=ETAG guards one with its etag), or every request matching the filter flags, a page at a\n" +
				"time (--all follows the pages). --validate-only reports what would happen and changes nothing.",
			example: "  interloan requests batch --action expire --status request-sent --updated-before 2026-01-01 --validate-only\n  interloan requests batch --action add-note --note 'checked' 7 8=3f2a9c",
			run:     requestsBatch, rpcs: []string{requestsv1.RequestService_BatchActBorrowingRequests_FullMethodName},
			flags: func(s *pflag.FlagSet, o *opts) {
				s.StringVar(&o.action, "action", "", "the action (required), e.g. expire, add-note")
				s.StringVar(&o.note, "note", "", "note for each request's audit trail")
				s.BoolVar(&o.validateOnly, "validate-only", false, "report what would happen; change nothing")
				bindPaging(s, o)
				bindFilter(s, o)
			}},
		{path: "requests anonymize", brief: "Remove patron data from requests closed more than N days ago", run: requestsAnonymize,
			rpcs: []string{requestsv1.RequestService_AnonymizeBorrowingRequests_FullMethodName},
			flags: func(s *pflag.FlagSet, o *opts) {
				s.IntVar(&o.olderThanDays, "older-than-days", 0, "only requests closed at least this many days ago (required)")
				s.StringVar(&o.owner, "owner", "", "only requests of this owning library code")
				s.BoolVar(&o.validateOnly, "validate-only", false, "list what would be anonymized; change nothing")
			}},

		// Audit trails and identity.
		{path: "audit list", brief: "List the audit trail of a service's configuration changes, newest first", run: auditList,
			rpcs: []string{profilesv1.ProfileService_ListAuditEvents_FullMethodName, mappingv1.MappingService_ListAuditEvents_FullMethodName},
			flags: func(s *pflag.FlagSet, o *opts) {
				bindPaging(s, o)
				s.StringVar(&o.service, "service", "", "whose trail: profiles or mapping (required)")
				s.StringVar(&o.resource, "resource", "", "only events about this resource, e.g. partners/ABC")
			}},
		{path: "whoami", brief: "Who the suite takes your token (or certificate) to be, and its roles", run: whoami, grpc: true,
			long: "Ask a service who the suite takes the caller to be: the principal of the token (or client certificate)\n" +
				"and its roles. It calls a service's gRPC port (--addr) directly, like backup: the REST gateway does not\n" +
				"serve it.",
			rpcs: []string{whoamiRPC}},
	}
	return append(append(cs, actionCommands()...), tryCommands()...)
}

// bindPaging adds the flags every list command has.
func bindPaging(s *pflag.FlagSet, o *opts) {
	s.IntVar(&o.pageSize, "page-size", 0, "results per page (0: the server's default, 50)")
	s.StringVar(&o.pageToken, "page-token", "", "continue from a previous page's next_page_token")
	s.BoolVar(&o.all, "all", false, "follow next_page_token to the end and print every page as one")
}

// bindEtag adds --etag, the optimistic-concurrency guard of a change.
func bindEtag(s *pflag.FlagSet, o *opts) {
	s.StringVar(&o.etag, "etag", "", "fail with ABORTED if the resource changed since you read this etag")
}

func bindStart(s *pflag.FlagSet, o *opts) {
	s.StringVar(&o.profile, "profile", "", "the profile to run (code or integrationProfiles/CODE)")
	s.BoolVar(&o.wait, "wait", false, "follow the run to its end; the exit code says how it ended")
	s.StringVar(&o.requestID, "request-id", "", "idempotency key: repeating the start returns the same run")
}

// parseEnum reads an enum value as an operator writes it: `completed-success`,
// `COMPLETED_SUCCESS` or the full `RUN_STATE_COMPLETED_SUCCESS`, any case. The zero
// (unspecified) value is never accepted.
func parseEnum[E interface {
	~int32
	protoreflect.Enum
}](s, flagName string) (E, error) {
	var zero E
	d := zero.Descriptor()
	name := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), "-", "_"))
	prefix := enumPrefix(d)
	for _, n := range []string{name, prefix + name} {
		if v := d.Values().ByName(protoreflect.Name(n)); v != nil && v.Number() != 0 {
			return E(v.Number()), nil
		}
	}
	var valid []string
	for i := 1; i < d.Values().Len(); i++ {
		valid = append(valid, strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(string(d.Values().Get(i).Name()), prefix)), "_", "-"))
	}
	return zero, usagef("%s %q: want one of %s", flagName, s, strings.Join(valid, ", "))
}

// optionalEnum parses a filter flag's enum when it is given; unset is the zero value.
func optionalEnum[E interface {
	~int32
	protoreflect.Enum
}](s, flagName string) (E, error) {
	if s == "" {
		var zero E
		return zero, nil
	}
	return parseEnum[E](s, flagName)
}
