package resource

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/apierr"
)

func TestParseName(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		ok         bool
	}{
		{"partners/ABC", "ABC", true},
		{"", "", false},
		{"partners/", "", false},
		{"libraries/ABC", "", false},
		{"partners/a/b", "", false},
	} {
		got, err := ParseName("name", tc.name, "partners")
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseName(%q) = %q, %v", tc.name, got, err)
		}
		if err != nil && !apierr.IsKind(err, apierr.KindInvalidArgument) {
			t.Errorf("ParseName(%q): want INVALID_ARGUMENT, got %v", tc.name, err)
		}
	}
}

func TestValidCode(t *testing.T) {
	for s, want := range map[string]bool{"ABC": true, "lib-1.x_2": true, "": false, "-a": false, "a b": false, "å": false} {
		if ValidCode(s) != want {
			t.Errorf("ValidCode(%q) != %v", s, want)
		}
	}
}

func TestEtag(t *testing.T) {
	a, b := Etag(wrapperspb.String("x")), Etag(wrapperspb.String("y"))
	if a == b || a != Etag(wrapperspb.String("x")) {
		t.Fatal("etag must be stable and differ for different content")
	}
	if CheckEtag("n", "", a) != nil || CheckEtag("n", a, a) != nil {
		t.Fatal("matching or empty etag must pass")
	}
	if !apierr.IsKind(CheckEtag("n", b, a), apierr.KindAborted) {
		t.Fatal("mismatch must be ABORTED")
	}
}

// TestCollection: the collection comes from the message's resource annotation, and a
// message without one is a programming error caught at once.
func TestCollection(t *testing.T) {
	for _, tc := range []struct {
		m    proto.Message
		want string
	}{
		{&profilesv1.IntegrationProfile{}, "integrationProfiles"},
		{&mappingv1.LibraryMapping{}, "libraryMappings"},
		{&harvesterv1.RunEvent{}, "runs"},
		{&requestsv1.BorrowingRequest{}, "borrowingRequests"},
		{&typev1.AuditEvent{}, "services"},
	} {
		if got := Collection(tc.m); got != tc.want {
			t.Errorf("Collection(%T) = %q, want %q", tc.m, got, tc.want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a message without a resource annotation gave a collection")
		}
	}()
	Collection(&wrapperspb.StringValue{})
}

// TestStampEncode: StampEncode stamps as Stamp does and returns bytes that decode to the
// stamped message.
func TestStampEncode(t *testing.T) {
	now := time.Date(2026, 12, 7, 8, 0, 0, 5, time.UTC)
	for _, create := range []bool{true, false} {
		base := &requestsv1.BorrowingRequest{Owner: "GUB", Etag: "stale", Note: "x",
			DataWarnings: []*typev1.DataWarning{{Field: "rota", Message: "m"}}}
		stamped, encoded := proto.Clone(base).(*requestsv1.BorrowingRequest), proto.Clone(base).(*requestsv1.BorrowingRequest)
		Stamp(stamped, "borrowingRequests/1", now, create)
		b, err := StampEncode(encoded, "borrowingRequests/1", now, create)
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(stamped, encoded) {
			t.Errorf("create %v: StampEncode stamped %v, Stamp %v", create, encoded, stamped)
		}
		decoded := &requestsv1.BorrowingRequest{}
		if err := proto.Unmarshal(b, decoded); err != nil || !proto.Equal(decoded, stamped) {
			t.Errorf("create %v: the bytes decode to %v (%v), want %v", create, decoded, err, stamped)
		}
	}
}
