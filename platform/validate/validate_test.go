package validate

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/interloan/interloan/platform/apierr"
)

func TestChecks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func(*apierr.Violations)
		ok    bool
	}{
		{"code ok", func(v *apierr.Violations) { Code(v, "f", "MAIN-1") }, true},
		{"code empty", func(v *apierr.Violations) { Code(v, "f", "") }, false},
		{"code slash", func(v *apierr.Violations) { Code(v, "f", "a/b") }, false},
		{"code name ok", func(v *apierr.Violations) { CodeName(v, "f", "partners/ABC", "partners") }, true},
		{"code name empty", func(v *apierr.Violations) { CodeName(v, "f", "", "partners") }, false},
		{"code name bare code", func(v *apierr.Violations) { CodeName(v, "f", "ABC", "partners") }, false},
		{"code name other collection", func(v *apierr.Violations) { CodeName(v, "f", "libraries/ABC", "partners") }, false},
		{"code name bad code", func(v *apierr.Violations) { CodeName(v, "f", "partners/A/B", "partners") }, false},
		{"code name no code", func(v *apierr.Violations) { CodeName(v, "f", "partners/", "partners") }, false},
		{"request id empty", func(v *apierr.Violations) { RequestID(v, "f", "") }, true},
		{"request id at limit", func(v *apierr.Violations) { RequestID(v, "f", strings.Repeat("é", 128)) }, true},
		{"request id too long", func(v *apierr.Violations) { RequestID(v, "f", strings.Repeat("a", 129)) }, false},
		{"display name ok", func(v *apierr.Violations) { DisplayName(v, "f", "Göteborgs UB") }, true},
		{"display name blank", func(v *apierr.Violations) { DisplayName(v, "f", "  ") }, false},
		{"display name too long", func(v *apierr.Violations) { DisplayName(v, "f", strings.Repeat("é", 201)) }, false},
		{"text newline single-line", func(v *apierr.Violations) { Text(v, "f", "a\nb", 10, false) }, false},
		{"text newline multiline", func(v *apierr.Violations) { Text(v, "f", "a\nb", 10, true) }, true},
		{"text invalid utf8", func(v *apierr.Violations) { Text(v, "f", "\xff", 10, true) }, false},
		{"token ok", func(v *apierr.Violations) { Token(v, "f", "Gbg", 32) }, true},
		{"token space", func(v *apierr.Violations) { Token(v, "f", "G bg", 32) }, false},
		{"token long", func(v *apierr.Violations) { Token(v, "f", "abc", 2) }, false},
		{"email empty", func(v *apierr.Violations) { Email(v, "f", "") }, true},
		{"email ok", func(v *apierr.Violations) { Email(v, "f", "ill@lib.se") }, true},
		{"email with name", func(v *apierr.Violations) { Email(v, "f", "ILL <ill@lib.se>") }, false},
		{"url ok", func(v *apierr.Violations) { BaseURL(v, "f", "https://libris.kb.se/api") }, true},
		{"url ftp", func(v *apierr.Violations) { BaseURL(v, "f", "ftp://libris.kb.se") }, false},
		{"url relative", func(v *apierr.Violations) { BaseURL(v, "f", "/api") }, false},
		{"url userinfo", func(v *apierr.Violations) { BaseURL(v, "f", "https://u:p@x.se") }, false},
		{"url too long", func(v *apierr.Violations) { BaseURL(v, "f", "https://x.se/"+strings.Repeat("a", 2048)) }, false},
		{"url query", func(v *apierr.Violations) { BaseURL(v, "f", "https://x.se/?a=1") }, false},
		{"enum ok", func(v *apierr.Violations) { Enum(v, "f", structpb.NullValue_NULL_VALUE, false) }, true},
		{"enum unknown", func(v *apierr.Violations) { Enum(v, "f", structpb.NullValue(7), false) }, false},
		{"enum required zero", func(v *apierr.Violations) { Enum(v, "f", structpb.NullValue_NULL_VALUE, true) }, false},
	} {
		var v apierr.Violations
		tc.check(&v)
		if (v.Len() == 0) != tc.ok {
			t.Errorf("%s: violations %v", tc.name, v.Err())
		}
	}
}

func TestTimeRange(t *testing.T) {
	at := func(s int64) *timestamppb.Timestamp { return &timestamppb.Timestamp{Seconds: s} }
	bad := &timestamppb.Timestamp{Nanos: -1}
	tests := []struct {
		name          string
		after, before *timestamppb.Timestamp
		wantErrFields []string
		wantA, wantB  int64 // unix seconds; -1 for zero time
	}{
		{"unset", nil, nil, nil, -1, -1},
		{"after only", at(10), nil, nil, 10, -1},
		{"both in order", at(10), at(20), nil, 10, 20},
		{"equal", at(10), at(10), []string{"x_before"}, 10, 10},
		{"reversed", at(20), at(10), []string{"x_before"}, 20, 10},
		{"invalid after", bad, at(10), []string{"x_after"}, -1, 10},
		{"invalid both", bad, bad, []string{"x_after", "x_before"}, -1, -1},
	}
	for _, tt := range tests {
		var v apierr.Violations
		a, b := TimeRange(&v, "x", tt.after, tt.before)
		var fields []string
		var e *apierr.Error
		if errors.As(v.Err(), &e) {
			for _, fv := range e.Violations {
				fields = append(fields, fv.Field)
			}
		}
		if !slices.Equal(fields, tt.wantErrFields) {
			t.Errorf("%s: violations on %v, want %v", tt.name, fields, tt.wantErrFields)
		}
		unix := func(x time.Time) int64 {
			if x.IsZero() {
				return -1
			}
			return x.Unix()
		}
		if unix(a) != tt.wantA || unix(b) != tt.wantB {
			t.Errorf("%s: got %d..%d, want %d..%d", tt.name, unix(a), unix(b), tt.wantA, tt.wantB)
		}
	}
}
