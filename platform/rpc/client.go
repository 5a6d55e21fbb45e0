package rpc

import (
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// ReconnectQuickly is the dial option of connections between the suite's services. gRPC's
// default reconnect backoff grows to two minutes, so a peer restarted in milliseconds
// (a pod rescheduled, a crash) stayed unreachable for seconds to minutes while every call
// failed fast; on a LAN a retry each second at most costs nothing.
func ReconnectQuickly() grpc.DialOption {
	return grpc.WithConnectParams(grpc.ConnectParams{
		Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
		MinConnectTimeout: 5 * time.Second,
	})
}
