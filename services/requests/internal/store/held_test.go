package store

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
)

// TestReadHeld: readHeld reads what proto.Unmarshal reads, or says it cannot.
func TestReadHeld(t *testing.T) {
	r := &requestsv1.BorrowingRequest{
		Name: "borrowingRequests/7",
		ExternalReference: &requestsv1.ExternalReference{ExternalId: "x", StatusRaw: "Beställd",
			LastModifiedTime: timestamppb.New(t0)},
		Bibliographic: &requestsv1.Bibliographic{Title: "Röda rummet"},
		Status:        stCreated,
		DataWarnings: []*typev1.DataWarning{{Field: "rota", Code: WarningUnknownCode, Message: "a"},
			{Field: "note", Code: WarningUnknownCode, Message: "b"}},
	}
	whole, err := proto.Marshal(r)
	noErr(t, err)
	noRef, err := proto.Marshal(&requestsv1.BorrowingRequest{Name: "borrowingRequests/8"})
	noErr(t, err)
	appendString := func(b []byte, num protowire.Number, s string) []byte {
		return protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), s)
	}
	for _, tc := range []struct {
		name string
		v    []byte
		ok   bool
	}{
		{"a stored request", whole, true},
		{"no external reference", noRef, true},
		{"empty", nil, true},
		{"name twice", appendString(append([]byte(nil), whole...), fieldName, "borrowingRequests/9"), false},
		{"external reference twice", appendString(append([]byte(nil), whole...), fieldExternalRef, ""), false},
		{"truncated", whole[:len(whole)-3], false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, ok := readHeld(tc.v)
			if ok != tc.ok {
				t.Fatalf("readHeld ok %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			var full requestsv1.BorrowingRequest
			noErr(t, proto.Unmarshal(tc.v, &full))
			want := held{full.GetName(), full.GetExternalReference().GetLastModifiedTime(), full.GetDataWarnings()}
			if h.name != want.name || !proto.Equal(h.lastModified, want.lastModified) ||
				!slices.EqualFunc(h.warnings, want.warnings, func(a, b *typev1.DataWarning) bool { return proto.Equal(a, b) }) {
				t.Errorf("readHeld = %v, want %v", h, want)
			}
		})
	}
}
