package server

import (
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// Limits bound what callers can hold on a gRPC port. Anonymous callers are refused on
// their headers (auth.TapHandle) before any message is read; these caps bound the rest:
// connections, calls in flight per connection, and connections left idle or dead. A zero
// field takes its default from DefaultLimits.
type Limits struct {
	// MaxConnections is how many connections are served at once; further clients wait
	// in the kernel's accept backlog until one closes (Run only: New has no listener).
	MaxConnections int
	// MaxConcurrentStreams is how many calls one connection may have in flight; a
	// client's further calls wait for one to finish.
	MaxConcurrentStreams uint32
	// IdleTimeout closes a connection that has had no call in flight for this long (the
	// client reconnects on its next call), so idle or refused-only connections free
	// their slot.
	IdleTimeout time.Duration
	// MaxRecvMsgSize is the largest request message a call may send.
	MaxRecvMsgSize int
}

// DefaultLimits suit the suite's traffic: a handful of peers (gateway, harvester, CLI),
// each on one connection per service, with Watch streams and a run's ingest stream
// held open.
func DefaultLimits() Limits {
	return Limits{
		MaxConnections:       256,
		MaxConcurrentStreams: 100,
		IdleTimeout:          5 * time.Minute,
		MaxRecvMsgSize:       16 << 20,
	}
}

// Fixed transport timings, not worth a knob: the server pings a connection quiet for
// keepaliveTime and drops it if the ping is unanswered within keepaliveTimeout (a dead
// peer frees its slot); a client pinging more often than minClientPing is disconnected;
// a connection must finish its TLS and HTTP/2 handshake within handshakeTimeout.
const (
	keepaliveTime    = 2 * time.Minute
	keepaliveTimeout = 20 * time.Second
	minClientPing    = 30 * time.Second
	handshakeTimeout = 20 * time.Second
)

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxConnections <= 0 {
		l.MaxConnections = d.MaxConnections
	}
	if l.MaxConcurrentStreams == 0 {
		l.MaxConcurrentStreams = d.MaxConcurrentStreams
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = d.IdleTimeout
	}
	if l.MaxRecvMsgSize <= 0 {
		l.MaxRecvMsgSize = d.MaxRecvMsgSize
	}
	return l
}

// serverOptions are the gRPC options of l (all but MaxConnections, which is the listener's).
func (l Limits) serverOptions() []grpc.ServerOption {
	l = l.withDefaults()
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(l.MaxRecvMsgSize),
		grpc.MaxConcurrentStreams(l.MaxConcurrentStreams),
		// Go's net/http default: request headers are read before authentication.
		grpc.MaxHeaderListSize(1 << 20),
		grpc.ConnectionTimeout(handshakeTimeout),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: l.IdleTimeout, Time: keepaliveTime, Timeout: keepaliveTimeout,
		}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: minClientPing, PermitWithoutStream: true}),
	}
}

// limitListener serves at most cap(slots) connections at once: Accept waits for a slot,
// and a connection's Close frees it.
type limitListener struct {
	net.Listener
	slots     chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
}

func limitListen(l net.Listener, n int) net.Listener {
	return &limitListener{Listener: l, slots: make(chan struct{}, n), closed: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.closed:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
