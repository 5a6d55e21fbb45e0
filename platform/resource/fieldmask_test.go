package resource

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/apipb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/sourcecontextpb"

	"github.com/interloan/interloan/platform/apierr"
)

// apipb.Api is a convenient well-known message with scalars and a nested message.
func TestUpdatePaths(t *testing.T) {
	updatable := []string{"version", "source_context"}
	msg := &apipb.Api{Name: "x", Version: "v2"}
	for _, tc := range []struct {
		name  string
		mask  []string
		want  []string
		valid bool
	}{
		{"implied from set fields", nil, []string{"version"}, true},
		{"star", []string{"*"}, updatable, true},
		{"subfield", []string{"source_context.file_name"}, []string{"source_context.file_name"}, true},
		{"not updatable", []string{"name"}, nil, false},
		{"no such subfield", []string{"source_context.nope"}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mask *fieldmaskpb.FieldMask
			if tc.mask != nil {
				mask = &fieldmaskpb.FieldMask{Paths: tc.mask}
			}
			got, err := UpdatePaths(mask, msg, updatable)
			if tc.valid != (err == nil) || (err != nil && !apierr.IsKind(err, apierr.KindInvalidArgument)) {
				t.Fatalf("err = %v", err)
			}
			if tc.valid && !slices.Equal(got, tc.want) {
				t.Fatalf("paths = %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := UpdatePaths(nil, &apipb.Api{Name: "x"}, updatable); err == nil {
		t.Error("nothing to update must be an error")
	}
}

func TestApplyPaths(t *testing.T) {
	dst := &apipb.Api{Name: "keep", Version: "v1", SourceContext: &sourcecontextpb.SourceContext{FileName: "a"}}
	src := &apipb.Api{Name: "ignored", SourceContext: &sourcecontextpb.SourceContext{FileName: "b"}}
	ApplyPaths(dst, src, []string{"version", "source_context.file_name"})
	want := &apipb.Api{Name: "keep", SourceContext: &sourcecontextpb.SourceContext{FileName: "b"}}
	if !proto.Equal(dst, want) {
		t.Fatalf("got %v, want %v", dst, want)
	}
	src.SourceContext.FileName = "changed later"
	ApplyPaths(dst, src, []string{"source_context"})
	src.SourceContext.FileName = "mutated"
	if dst.SourceContext.FileName != "changed later" {
		t.Fatal("ApplyPaths must deep-copy messages")
	}
}

func TestApplyPathsCopiesLists(t *testing.T) {
	src := &apipb.Api{Methods: []*apipb.Method{{Name: "a"}}}
	dst := &apipb.Api{Methods: []*apipb.Method{{Name: "old"}, {Name: "older"}}}
	ApplyPaths(dst, src, []string{"methods"})
	src.Methods[0].Name = "mutated"
	if len(dst.Methods) != 1 || dst.Methods[0].Name != "a" {
		t.Fatalf("methods = %v, want one method a, copied", dst.Methods)
	}
}

func TestReadPaths(t *testing.T) {
	msg := &apipb.Api{}
	for _, tc := range []struct {
		name  string
		mask  []string
		want  []string
		valid bool
	}{
		{"absent", nil, nil, true},
		{"star", []string{"*"}, nil, true},
		{"fields", []string{"name", "version"}, []string{"name", "version"}, true},
		{"subfield", []string{"source_context.file_name"}, []string{"source_context.file_name"}, true},
		{"whole list", []string{"methods"}, []string{"methods"}, true},
		{"into a list", []string{"methods.name"}, nil, false},
		{"unknown", []string{"name", "nope"}, nil, false},
		{"no such subfield", []string{"source_context.nope"}, nil, false},
		{"into a scalar", []string{"name.x"}, nil, false},
		{"empty path", []string{""}, nil, false},
		{"json name", []string{"sourceContext"}, nil, false},
		{"star with others", []string{"*", "name"}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mask *fieldmaskpb.FieldMask
			if tc.mask != nil {
				mask = &fieldmaskpb.FieldMask{Paths: tc.mask}
			}
			got, err := ReadPaths(mask, msg)
			if tc.valid != (err == nil) || (err != nil && !apierr.IsKind(err, apierr.KindInvalidArgument)) {
				t.Fatalf("err = %v", err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("paths = %v, want %v", got, tc.want)
			}
		})
	}
}
