package client

import (
	"errors"
	"fmt"

	"google.golang.org/grpc"

	"github.com/interloan/interloan/platform/tlsconfig"
)

// Addresses are the gRPC addresses of the four services people call: the REST gateway
// and the staff console forward each caller's request to them.
type Addresses struct {
	Profiles, Mapping, Harvester, Requests string
}

// Upstreams are the connections to those services. They carry no credentials of their
// own: the caller's bearer token goes with each call.
type Upstreams struct {
	Profiles, Mapping, Harvester, Requests *grpc.ClientConn
}

// MaxUpstreamMsg matches the services' own receive limit (platform/server), so a large
// page an upstream may send is not refused by its caller.
const MaxUpstreamMsg = 16 << 20

// DialUpstreams connects to every address with Peer over transport. grpc.NewClient
// connects lazily, so it succeeds while an upstream is still down.
func DialUpstreams(a Addresses, transport *tlsconfig.Set, opts ...grpc.DialOption) (Upstreams, error) {
	var up Upstreams
	opts = append([]grpc.DialOption{grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxUpstreamMsg))}, opts...)
	for _, u := range []struct {
		name, addr string
		conn       **grpc.ClientConn
	}{
		{"profiles", a.Profiles, &up.Profiles},
		{"mapping", a.Mapping, &up.Mapping},
		{"harvester", a.Harvester, &up.Harvester},
		{"requests", a.Requests, &up.Requests},
	} {
		conn, err := Peer(u.addr, transport, nil, opts...)
		if err != nil {
			_ = up.Close()
			return Upstreams{}, fmt.Errorf("%s upstream %q: %w", u.name, u.addr, err)
		}
		*u.conn = conn
	}
	return up, nil
}

// Close closes every connection that is set.
func (u Upstreams) Close() error {
	var errs []error
	for _, c := range []*grpc.ClientConn{u.Profiles, u.Mapping, u.Harvester, u.Requests} {
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}
