package testenv

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/interloan/interloan/external"
	"github.com/interloan/interloan/external/connector"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/internal/suite"
	"github.com/interloan/interloan/platform/client"
	"github.com/interloan/interloan/platform/tlsconfig"
)

// Clients are one caller's clients of the suite's gRPC services. Seeding needs Profiles
// and Mapping only, so a caller whose services run elsewhere (separate processes) may
// fill in those it has.
type Clients struct {
	Profiles  profilesv1.ProfileServiceClient
	Mapping   mappingv1.MappingServiceClient
	Harvester harvesterv1.HarvesterServiceClient
	Requests  requestsv1.RequestServiceClient

	conns []*grpc.ClientConn
}

// DialClients connects to the four gRPC services at a as the holder of token, over TLS
// verified by a.CAFile when it is set and in plain text otherwise (loopback).
func DialClients(a suite.Addrs, token string, opts ...grpc.DialOption) (Clients, error) {
	var c Clients
	for _, addr := range []string{a.Profiles, a.Mapping, a.Harvester, a.Requests} {
		conn, err := client.Dial(addr, tlsconfig.Config{CAFile: a.CAFile}, token, opts...)
		if err != nil {
			return Clients{}, errors.Join(err, c.Close())
		}
		c.conns = append(c.conns, conn)
	}
	c.Profiles = profilesv1.NewProfileServiceClient(c.conns[0])
	c.Mapping = mappingv1.NewMappingServiceClient(c.conns[1])
	c.Harvester = harvesterv1.NewHarvesterServiceClient(c.conns[2])
	c.Requests = requestsv1.NewRequestServiceClient(c.conns[3])
	return c, nil
}

// Close closes the connections DialClients made.
func (c Clients) Close() error {
	var errs []error
	for _, conn := range c.conns {
		errs = append(errs, conn.Close())
	}
	return errors.Join(errs...)
}

// LocalLibrary is the local library that owns the imported requests in every World.
const LocalLibrary = "MAIN"

// World is what an administrator configures for one external system: the local library,
// the mapping of its code in the system to it, the lenders as partners, and the
// integration profile with its secrets.
type World struct {
	System typev1.ExternalSystem
	// Library is LocalLibrary's code in System (a sigel, an agency).
	Library string
	// Partners are the lenders' codes in System.
	Partners []string
	Profile  *profilesv1.IntegrationProfile
}

// ProfileName is the resource name of the world's profile.
func (w World) ProfileName() string { return "integrationProfiles/" + w.Profile.GetCode() }

// Seed configures w. What exists already is left in place, so seeding a data directory
// again (a demo re-run, a retry after a service restarted) works — except the profile,
// which is updated, since its URL and secrets are new with every fake.
func (c Clients) Seed(ctx context.Context, w World) error {
	exists := func(err error) error {
		if status.Code(err) == codes.AlreadyExists {
			return nil
		}
		return err
	}
	if err := exists(c.CreateLibrary(ctx, LocalLibrary, "Abc stadsbibliotek")); err != nil {
		return err
	}
	if err := exists(c.MapLibrary(ctx, w.System, w.Library, LocalLibrary)); err != nil {
		return err
	}
	for _, l := range w.Partners {
		if err := exists(c.CreatePartner(ctx, w.System, l, l+" bibliotek")); err != nil {
			return err
		}
	}
	_, err := c.CreateProfile(ctx, w.Profile)
	if status.Code(err) == codes.AlreadyExists {
		p := proto.Clone(w.Profile).(*profilesv1.IntegrationProfile)
		p.Name = w.ProfileName()
		_, err = c.Profiles.UpdateIntegrationProfile(ctx, &profilesv1.UpdateIntegrationProfileRequest{IntegrationProfile: p})
	}
	return err
}

// CreateLibrary creates a local library that takes part in resource sharing.
func (c Clients) CreateLibrary(ctx context.Context, code, displayName string) error {
	_, err := c.Mapping.CreateLibrary(ctx, &mappingv1.CreateLibraryRequest{Library: &mappingv1.Library{
		Code: code, DisplayName: displayName, IsResourceSharingLibrary: true}})
	return err
}

// MapLibrary maps a library's code in system to the local library local.
func (c Clients) MapLibrary(ctx context.Context, system typev1.ExternalSystem, code, local string) error {
	_, err := c.Mapping.CreateLibraryMapping(ctx, &mappingv1.CreateLibraryMappingRequest{LibraryMapping: &mappingv1.LibraryMapping{
		System: system, ExternalCode: code, LocalLibraryCode: local}})
	return err
}

// CreatePartner creates an active lending partner of system.
func (c Clients) CreatePartner(ctx context.Context, system typev1.ExternalSystem, code, displayName string) error {
	_, err := c.Mapping.CreatePartner(ctx, &mappingv1.CreatePartnerRequest{Partner: &mappingv1.Partner{
		Code: code, DisplayName: displayName, Status: mappingv1.PartnerStatus_PARTNER_STATUS_ACTIVE, System: system}})
	return err
}

// CreateProfile creates p and returns its resource name.
func (c Clients) CreateProfile(ctx context.Context, p *profilesv1.IntegrationProfile) (string, error) {
	created, err := c.Profiles.CreateIntegrationProfile(ctx, &profilesv1.CreateIntegrationProfileRequest{IntegrationProfile: p})
	return created.GetName(), err
}

// Profile is an active integration profile of system, code, for LocalLibrary: it reads
// the requests of library (a sigel, an agency) at url with the credential key (Libris's
// API key, the DBC password of NetpunktUser), harvesting from the day of start.
func Profile(system typev1.ExternalSystem, code, url, library, key string, start time.Time) *profilesv1.IntegrationProfile {
	p := &profilesv1.IntegrationProfile{
		Code: code, System: system, ResourceSharingLibrary: LocalLibrary, ApiKey: key, Active: true,
		HarvestStart: &profilesv1.HarvestStart{Date: &typev1.Date{Year: int32(start.Year()), Month: int32(start.Month()), Day: int32(start.Day())}},
	}
	if sys, ok := external.Lookup(system); ok {
		p.DisplayName = sys.Name + " " + library
		sys.SetSettings(p, connector.Settings{BaseURL: url, LibraryCode: library})
	}
	if n := p.GetNetpunkt(); n != nil {
		// The fake's DBC credential (Netpunkt.World) is for this user and group.
		n.User, n.Group = NetpunktUser, netpunktGroup(library)
	}
	return p
}

// Import starts a run of profile and waits for its end.
func Import(ctx context.Context, h harvesterv1.HarvesterServiceClient, profile string) (*harvesterv1.Run, error) {
	run, err := h.StartRun(ctx, &harvesterv1.StartRunRequest{Profile: profile})
	if err != nil {
		return nil, fmt.Errorf("start run: %w", err)
	}
	return Await(ctx, h, run.GetName())
}

// Await polls a run until it ends, and returns it as it ended.
func Await(ctx context.Context, h harvesterv1.HarvesterServiceClient, name string) (*harvesterv1.Run, error) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		run, err := h.GetRun(ctx, &harvesterv1.GetRunRequest{Name: name})
		if err != nil {
			return nil, err
		}
		if !running(run) {
			return run, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// AwaitRunsAfter waits for runs that the caller did not start — those pushed receipts
// start — and returns them oldest first: the runs of profile newer than the run named
// after, once there is one, all have ended, and done accepts them. It polls until ctx
// ends.
func AwaitRunsAfter(ctx context.Context, h harvesterv1.HarvesterServiceClient, profile, after string,
	done func([]*harvesterv1.Run) (bool, error)) ([]*harvesterv1.Run, error) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		resp, err := h.ListRuns(ctx, &harvesterv1.ListRunsRequest{Profile: profile, PageSize: 20})
		if err != nil {
			return nil, err
		}
		var runs []*harvesterv1.Run // newest first until reversed
		for _, r := range resp.GetRuns() {
			if r.GetName() == after {
				break
			}
			runs = append(runs, r)
		}
		ended := len(runs) > 0
		for _, r := range runs {
			ended = ended && !running(r)
		}
		if ended {
			slices.Reverse(runs)
			if ok, err := done(runs); ok || err != nil {
				return runs, err
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

func running(r *harvesterv1.Run) bool {
	s := r.GetState()
	return s == harvesterv1.RunState_RUN_STATE_PENDING || s == harvesterv1.RunState_RUN_STATE_RUNNING
}
