package api

import (
	"strings"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/resource"
)

// readPaths validates a read mask of BorrowingRequest paths (AIP-157) into v: nil
// means whole requests.
func readPaths(v *apierr.Violations, mask *fieldmaskpb.FieldMask) []string {
	paths, err := resource.ReadPaths(mask, (*requestsv1.BorrowingRequest)(nil))
	if e, ok := apierr.As(err); ok {
		for _, fv := range e.Violations {
			v.Add(fv.Field, "%s", fv.Description)
		}
	}
	return paths
}

// reduce returns new requests holding only the fields paths name. They share nothing
// with items (the store's, which may be shared), so the caller may mask them in place
// (forCallerOwned): a page reduced to a few small fields costs little to mask and send,
// where a whole page is copied for masking.
func reduce(items []*requestsv1.BorrowingRequest, paths []string) []*requestsv1.BorrowingRequest {
	out := make([]*requestsv1.BorrowingRequest, len(items))
	for i, r := range items {
		out[i] = &requestsv1.BorrowingRequest{}
		resource.ApplyPaths(out[i], r, paths)
	}
	return out
}

// topLevel are the top-level fields paths name (nil for nil: the whole request), for
// the store to decode only those.
func topLevel(paths []string) []string {
	if paths == nil {
		return nil
	}
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		name, _, _ := strings.Cut(p, ".")
		out = append(out, name)
	}
	return out
}
