package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/internal/testenv"
)

// vegeta GETs random requests through the gateway from Concurrency workers as fast as
// they are answered. The token goes in the targets file (0600), never on a command line.
func vegeta(ctx context.Context, o Options, s *testenv.Env, work string) (result, error) {
	r := result{Name: "rest"}
	var targets bytes.Buffer
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		fmt.Fprintf(&targets, "GET https://%s/v1/borrowingRequests/%d\nAuthorization: Bearer %s\n\n", s.Addrs.Gateway, 1+rnd.IntN(o.Requests), s.AdminToken)
	}
	tf, results := filepath.Join(work, "vegeta.targets"), filepath.Join(work, "vegeta.bin")
	if err := os.WriteFile(tf, targets.Bytes(), 0o600); err != nil {
		return r, err
	}
	if _, err := tool(ctx, o.Vegeta, "attack", "-targets", tf, "-rate", "0", "-max-workers", fmt.Sprint(o.Concurrency),
		"-workers", fmt.Sprint(o.Concurrency), "-duration", o.Duration.String(), "-root-certs", s.Addrs.CAFile, "-output", results); err != nil {
		return r, err
	}
	out, err := tool(ctx, o.Vegeta, "report", "-type", "json", results)
	if err != nil {
		return r, err
	}
	var rep struct {
		Latencies struct {
			P50 int64 `json:"50th"`
			P99 int64 `json:"99th"`
		} `json:"latencies"`
		Requests    int64            `json:"requests"`
		Throughput  float64          `json:"throughput"`
		StatusCodes map[string]int64 `json:"status_codes"`
		Errors      []string         `json:"errors"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		return r, fmt.Errorf("vegeta report: %w", err)
	}
	r.Calls, r.RPS = rep.Requests, rep.Throughput
	r.P50ms, r.P99ms = float64(rep.Latencies.P50)/1e6, float64(rep.Latencies.P99)/1e6
	r.Errors = rep.Requests - rep.StatusCodes["200"]
	r.Detail = "GET /v1/borrowingRequests/{id} by vegeta; status codes " + codes(rep.StatusCodes)
	if len(rep.Errors) > 0 {
		r.Detail += "; errors: " + strings.Join(rep.Errors, "; ")
	}
	return r, nil
}

// ghz lists requests by status on the ledger over gRPC (pages of 50) from Concurrency
// workers. ghz reads the API from a protoset this program writes (so it needs no
// reflection), and the token from a metadata file (0600).
func ghz(ctx context.Context, o Options, s *testenv.Env, work string) (result, error) {
	r := result{Name: "grpc"}
	set, meta, out := filepath.Join(work, "requests.protoset"), filepath.Join(work, "ghz.metadata.json"), filepath.Join(work, "ghz.json")
	if err := writeProtoset(set, requestsv1.File_interloan_requests_v1_requests_proto); err != nil {
		return r, err
	}
	if err := os.WriteFile(meta, []byte(fmt.Sprintf(`{"authorization": "Bearer %s"}`, s.AdminToken)), 0o600); err != nil {
		return r, err
	}
	if _, err := tool(ctx, o.Ghz, "--protoset", set, "--call", "interloan.requests.v1.RequestService/ListBorrowingRequests",
		"-d", `{"page_size": 50, "status": "STATUS_REQUEST_SENT"}`, "-M", meta, "-z", o.Duration.String(),
		"-c", fmt.Sprint(o.Concurrency), "--connections", fmt.Sprint(min(2, o.Concurrency)), "--duration-stop", "wait", "--cacert", s.Addrs.CAFile, "-O", "json", "-o", out, s.Addrs.Requests); err != nil {
		return r, err
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return r, err
	}
	var rep struct {
		Count   int64   `json:"count"`
		RPS     float64 `json:"rps"`
		Latency []struct {
			Percentage int   `json:"percentage"`
			Latency    int64 `json:"latency"`
		} `json:"latencyDistribution"`
		StatusCodes map[string]int64 `json:"statusCodeDistribution"`
		Errors      map[string]int64 `json:"errorDistribution"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return r, fmt.Errorf("ghz report: %w", err)
	}
	r.Calls, r.RPS = rep.Count, rep.RPS
	for _, l := range rep.Latency {
		switch l.Percentage {
		case 50:
			r.P50ms = float64(l.Latency) / 1e6
		case 99:
			r.P99ms = float64(l.Latency) / 1e6
		}
	}
	r.Errors = rep.Count - rep.StatusCodes["OK"]
	r.Detail = "ListBorrowingRequests (status, pages of 50) by ghz; status codes " + codes(rep.StatusCodes)
	for e, n := range rep.Errors {
		r.Detail += fmt.Sprintf("; %d× %s", n, e)
	}
	return r, nil
}

// tool runs a load tool and returns its stdout; a failure carries its stderr.
func tool(ctx context.Context, bin string, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %w: %s", filepath.Base(bin), args[0], err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// writeProtoset writes file and everything it imports as a FileDescriptorSet, the form
// ghz reads an API from.
func writeProtoset(path string, file protoreflect.FileDescriptor) error {
	var set descriptorpb.FileDescriptorSet
	seen := map[string]bool{}
	var add func(f protoreflect.FileDescriptor)
	add = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		for i := range f.Imports().Len() {
			add(f.Imports().Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(f))
	}
	add(file)
	b, err := proto.Marshal(&set)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// codes renders status-code counts in a stable order.
func codes(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, m[k])
	}
	return strings.Join(parts, " ")
}
