package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
)

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		in   []time.Duration
		p    float64
		want float64
	}{
		{nil, 50, 0},
		{ms(7), 99, 7},
		{ms(5, 1, 3, 2, 4), 50, 3},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 100), 99, 100},
	}
	for _, tt := range tests {
		if got := percentile(tt.in, tt.p); got != tt.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", tt.in, tt.p, got, tt.want)
		}
	}
}

// TestProtoset: the file ghz reads holds the ledger's API and every file it imports,
// dependencies first.
func TestProtoset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "set")
	if err := writeProtoset(path, requestsv1.File_interloan_requests_v1_requests_proto); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range set.GetFile() {
		for _, dep := range f.GetDependency() {
			if !seen[dep] {
				t.Errorf("%s comes before its dependency %s", f.GetName(), dep)
			}
		}
		seen[f.GetName()] = true
	}
	if last := set.GetFile()[len(set.GetFile())-1].GetName(); last != "interloan/requests/v1/requests.proto" {
		t.Fatalf("last file %s", last)
	}
}

func TestCodes(t *testing.T) {
	if got := codes(map[string]int64{"OK": 3, "Unavailable": 1}); got != "OK×3 Unavailable×1" {
		t.Fatal(got)
	}
}
