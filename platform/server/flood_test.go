package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/logging"
)

// floodMethod is a method of DefaultPolicy that takes a request: the harvester's ingest.
const floodMethod = "/interloan.requests.v1.IngestService/IngestBorrowingRequests"

const (
	floodConns     = 8
	floodPerConn   = 8
	floodMsgBytes  = 15 << 20
	floodBoundMiB  = 200 // peak RSS growth allowed for the whole flood
	floodServerEnv = "INTERLOAN_FLOOD_SERVER"
)

// TestUnauthenticatedFloodMemory sends floodConns×floodPerConn concurrent 15 MiB
// messages without a token to a real server on a loopback TCP port and measures the
// server's peak RSS (VmHWM). Refused on their headers, the messages are never read and
// the peak grows by a few MiB; a server that read them before refusing would grow by
// about 1.4 GB. The bound is on bytes, not time. The server runs in a child process, so
// the client's own buffers do not count.
func TestUnauthenticatedFloodMemory(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc to read the server's RSS")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFloodServerProcess$")
	cmd.Env = append(os.Environ(), floodServerEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close() // the child stops when its stdin closes
		_ = cmd.Wait()
	})
	addr := ""
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if a, ok := strings.CutPrefix(lines.Text(), "ADDR "); ok {
			addr = a
			break
		}
	}
	if addr == "" {
		t.Fatal("the server process did not report its address")
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	pid := cmd.Process.Pid

	// One payload shared by every call, sent as is, so the client does not hold 1 GB.
	payload, err := proto.Marshal(&wrapperspb.BytesValue{Value: make([]byte, floodMsgBytes)})
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]*grpc.ClientConn, floodConns)
	for i := range conns {
		conns[i], err = grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{})))
		if err != nil {
			t.Fatal(err)
		}
		defer conns[i].Close()
		conns[i].Connect()
	}
	before := procStatus(t, pid)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	codesSeen := map[codes.Code]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, conn := range conns {
		for range floodPerConn {
			wg.Go(func() {
				err := conn.Invoke(ctx, floodMethod, rawMessage(payload), &emptypb.Empty{})
				mu.Lock()
				codesSeen[status.Code(err)]++
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	after := procStatus(t, pid)
	growth := after["VmHWM"] - before["VmRSS"]
	t.Logf("%d×%d concurrent %d MiB messages without a token: server RSS %d MiB before, peak %d MiB after (growth %d MiB, bound %d MiB); answers %v",
		floodConns, floodPerConn, floodMsgBytes>>20, before["VmRSS"]>>10, after["VmHWM"]>>10, growth>>10, floodBoundMiB, codesSeen)
	if codesSeen[codes.Unauthenticated] != floodConns*floodPerConn {
		t.Errorf("answers %v, want every call UNAUTHENTICATED", codesSeen)
	}
	if growth>>10 > floodBoundMiB {
		t.Errorf("peak RSS grew by %d MiB, more than %d MiB: unauthenticated messages were read", growth>>10, floodBoundMiB)
	}
}

// TestFloodServerProcess is the server of TestUnauthenticatedFloodMemory, run in a child
// process: Run on a loopback port with one token nobody sends, serving floodMethod with a
// handler that reads its request. It prints the address and serves until stdin closes.
func TestFloodServerProcess(t *testing.T) {
	if os.Getenv(floodServerEnv) == "" {
		t.Skip("the child process of TestUnauthenticatedFloodMemory")
	}
	_, line, err := auth.NewToken("harvester", auth.RoleHarvester)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.Parse([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); cancel() }()
	svc, method, _ := strings.Cut(strings.TrimPrefix(floodMethod, "/"), "/")
	err = Run(ctx, Options{
		Name: "flood", GRPCListener: lis, Authenticator: tokens, Logger: logging.Discard(), ShutdownGrace: time.Second,
		Register: func(s *grpc.Server) {
			s.RegisterService(&grpc.ServiceDesc{ServiceName: svc, Methods: []grpc.MethodDesc{{
				MethodName: method,
				Handler: func(_ any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
					in := &wrapperspb.BytesValue{}
					if err := dec(in); err != nil {
						return nil, err
					}
					h := func(context.Context, any) (any, error) { return &emptypb.Empty{}, nil }
					return interceptor(ctx, in, &grpc.UnaryServerInfo{FullMethod: floodMethod}, h)
				},
			}}}, nil)
		},
		Ready: func(g, _ net.Addr) { fmt.Printf("ADDR %s\n", g) },
	})
	if err != nil {
		t.Fatal(err)
	}
}

// procStatus reads the kB figures of /proc/<pid>/status.
func procStatus(t *testing.T, pid int) map[string]int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for l := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(l, ":")
		if f := strings.Fields(v); ok && len(f) == 2 && f[1] == "kB" {
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				out[k] = n
			}
		}
	}
	return out
}

// rawMessage is an already encoded request; rawCodec sends it without copying.
type rawMessage []byte

type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(rawMessage); ok {
		return mem.BufferSlice{mem.SliceBuffer(m)}, nil
	}
	b, err := proto.Marshal(v.(proto.Message))
	return mem.BufferSlice{mem.SliceBuffer(b)}, err
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return proto.Unmarshal(data.Materialize(), v.(proto.Message))
}

func (rawCodec) Name() string { return "proto" }
