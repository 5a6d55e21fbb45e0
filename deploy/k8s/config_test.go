package k8s

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/config"
	"github.com/interloan/interloan/platform/server"
	consoleapp "github.com/interloan/interloan/services/console/app"
	gatewayapp "github.com/interloan/interloan/services/gateway/app"
	harvesterapp "github.com/interloan/interloan/services/harvester/app"
	mappingapp "github.com/interloan/interloan/services/mapping/app"
	profilesapp "github.com/interloan/interloan/services/profiles/app"
	requestsapp "github.com/interloan/interloan/services/requests/app"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
)

// binary is one program the manifests run, described by its own code: its flags (and
// their INTERLOAN_* env twins) and the ports the design gives it.
type binary struct {
	// grpcPort is the service's default gRPC port, from its app package; 0 for the edge
	// (the gateway and the console), which serves only HTTP.
	grpcPort int
	// healthServices are the grpc.health.v1 names the service reports SERVING.
	healthServices []string
	// shutdownPhases is how many times --shutdown-grace can elapse during a shutdown:
	// the services stop their HTTP port and then gRPC (platform/server.Run), each bounded
	// by the grace; the edge stops its HTTP and metrics servers at once.
	shutdownPhases int
	// single says why the workload runs exactly one replica in every overlay, and so
	// has no PodDisruptionBudget (with one replica any budget would either block node
	// drains forever or allow everything). Empty for a workload that scales, which has a
	// budget.
	single string
	// bind registers the binary's flags on s and returns what the test reads of them.
	bind func(s *config.Set) func() settings
}

// settings are the configured values the manifests must agree with.
type settings struct {
	grpcAddr, httpAddr, dataDir string
	// metricsAddr is the edge's /metrics listener, apart from its public port (the
	// services serve /metrics on httpAddr).
	metricsAddr string
	grace       time.Duration
	upstreams   map[string]string // workload name → address dialled
	// identity is set for a binary that calls other services as itself (the harvester):
	// whether it has a token or a client certificate to do it with.
	identity *bool
	// outbound is set for the binary that calls external systems (the harvester): its
	// --allowed-hosts and --allow-private-networks.
	outbound *outbound
	// oidc is set for a binary that takes the shared OpenID Connect flags (the services
	// and the console): what it was given of them.
	oidc *auth.OIDCConfig
	// oidcClient is set for the binary that signs people in with the provider (the
	// console): its registration.
	oidcClient *consoleapp.OIDC
}

type outbound struct {
	allowedHosts string
	allowPrivate bool
}

func common(c *server.Common) settings {
	return settings{grpcAddr: c.GRPCAddr, httpAddr: c.HTTPAddr, dataDir: c.DataDir, grace: c.ShutdownGrace, oidc: &c.OIDC}
}

// The reasons for one replica.
const (
	oneWriter = "one bbolt file has one writer"
	inMemory  = "sessions live in the process's memory: another replica would not know them"
)

// binaries are the workloads of the suite by name: the name is the workload's, its
// container's and its image's (interloan/<name>).
var binaries = map[string]binary{
	"profiles": {
		grpcPort: profilesapp.DefaultGRPCPort, healthServices: profilesapp.Services, shutdownPhases: 2, single: oneWriter,
		bind: func(s *config.Set) func() settings {
			var c profilesapp.Config
			c.Bind(s)
			return func() settings { return common(&c.Common) }
		},
	},
	"mapping": {
		grpcPort: mappingapp.DefaultGRPCPort, shutdownPhases: 2, single: oneWriter,
		healthServices: []string{mappingv1.MappingService_ServiceDesc.ServiceName},
		bind: func(s *config.Set) func() settings {
			var c mappingapp.Config
			c.Bind(s)
			return func() settings { return common(&c.Common) }
		},
	},
	"harvester": {
		grpcPort: harvesterapp.DefaultGRPCPort, shutdownPhases: 2,
		single:         oneWriter + ", and a second harvester would run every scheduled job twice",
		healthServices: []string{harvesterv1.HarvesterService_ServiceDesc.ServiceName},
		bind: func(s *config.Set) func() settings {
			var c harvesterapp.Config
			c.Bind(s)
			return func() settings {
				st := common(&c.Common)
				st.upstreams = map[string]string{"profiles": c.ProfilesAddr, "mapping": c.MappingAddr, "requests": c.RequestsAddr}
				// Its service token, or else its TLS certificate (which must carry
				// OU=harvester: the harvester checks that at start).
				id := c.ServiceTokenFile != "" || c.TLS.CertFile != ""
				st.identity = &id
				st.outbound = &outbound{c.AllowedHosts, c.AllowPrivateNetworks}
				return st
			}
		},
	},
	"requests": {
		grpcPort: requestsapp.DefaultGRPCPort, healthServices: requestsapp.Services, shutdownPhases: 2, single: oneWriter,
		bind: func(s *config.Set) func() settings {
			var c requestsapp.Config
			c.Bind(s)
			return func() settings { return common(&c.Common) }
		},
	},
	"gateway": {
		shutdownPhases: 1,
		bind: func(s *config.Set) func() settings {
			var c gatewayapp.Config
			c.Bind(s)
			return func() settings {
				return settings{httpAddr: c.HTTPAddr, metricsAddr: c.MetricsAddr, grace: c.ShutdownGrace, upstreams: map[string]string{
					"profiles": c.ProfilesAddr, "mapping": c.MappingAddr, "harvester": c.HarvesterAddr, "requests": c.RequestsAddr,
				}}
			}
		},
	},
	"console": {
		shutdownPhases: 1, single: inMemory,
		bind: func(s *config.Set) func() settings {
			var c consoleapp.Config
			c.Bind(s)
			return func() settings {
				return settings{httpAddr: c.HTTPAddr, metricsAddr: c.MetricsAddr, grace: c.ShutdownGrace, upstreams: map[string]string{
					"profiles": c.ProfilesAddr, "mapping": c.MappingAddr, "harvester": c.HarvesterAddr, "requests": c.RequestsAddr,
				}, oidc: &c.OIDC.OIDCConfig, oidcClient: &c.OIDC}
			}
		},
	},
}

// edge reports whether the binary serves only HTTP, to clients outside the suite: its
// HTTP port is public, and it serves /metrics on a port of its own.
func (b binary) edge() bool { return b.grpcPort == 0 }

// envUsage finds the env twin a flag's usage names (platform/config appends "(env X)").
var envUsage = regexp.MustCompile(`\(env (INTERLOAN_[A-Z0-9_]+)`)

// load parses the binary's flags as the process would in its pod: no arguments, the
// environment exactly env. It returns the settings and the env names the binary knows.
func (b binary) load(t *testing.T, env map[string]string) (settings, map[string]bool, error) {
	t.Helper()
	clearInterloanEnv(t)
	for k, v := range env {
		t.Setenv(k, v)
	}
	defer clearInterloanEnv(t)
	s := config.New("manifest")
	s.SetOutput(io.Discard)
	get := b.bind(s)
	known := map[string]bool{}
	s.VisitAll(func(f *flag.Flag) {
		if m := envUsage.FindStringSubmatch(f.Usage); m != nil {
			known[m[1]] = true
		}
	})
	if err := s.Parse(nil); err != nil {
		return settings{}, known, err
	}
	return get(), known, nil
}

// defaults are the binary's settings with no INTERLOAN_* variable set.
func (b binary) defaults(t *testing.T) settings {
	t.Helper()
	st, _, err := b.load(t, nil)
	if err != nil {
		t.Fatalf("defaults: %v", err)
	}
	return st
}

// clearInterloanEnv unsets every INTERLOAN_* variable for the rest of the test (t.Setenv
// first, so the test's end restores them).
func clearInterloanEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "INTERLOAN_") {
			t.Setenv(k, v)
			os.Unsetenv(k)
		}
	}
}

// port is the port of a host:port listen or dial address.
func port(addr string) (host string, port int, err error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("port of %q: %w", addr, err)
	}
	return h, n, nil
}
