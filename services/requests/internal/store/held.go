package store

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
)

// held is what a re-import needs of a stored request to answer UNCHANGED: its name, its
// external last-modified time and its data warnings.
type held struct {
	name         string
	lastModified *timestamppb.Timestamp
	warnings     []*typev1.DataWarning
}

// The field numbers readHeld and List's partial decoding look for, from the generated
// descriptors.
var (
	requestFields      = (&requestsv1.BorrowingRequest{}).ProtoReflect().Descriptor().Fields()
	fieldName          = fieldNumber(&requestsv1.BorrowingRequest{}, "name")
	fieldExternalRef   = fieldNumber(&requestsv1.BorrowingRequest{}, "external_reference")
	fieldWarnings      = fieldNumber(&requestsv1.BorrowingRequest{}, "data_warnings")
	fieldBibliographic = fieldNumber(&requestsv1.BorrowingRequest{}, "bibliographic")
	fieldLastModified  = fieldNumber(&requestsv1.ExternalReference{}, "last_modified_time")
	// matchFields are the fields Filter.match reads, search words aside, and the name.
	matchFields = newFieldSet(&requestsv1.BorrowingRequest{}, "name", "external_reference", "status", "owner",
		"partner", "needs_attention", "create_time", "update_time")
)

// fieldSet is a set of top-level field numbers (BorrowingRequest's are below 64).
type fieldSet uint64

func newFieldSet(m proto.Message, names ...string) fieldSet {
	var s fieldSet
	for _, n := range names {
		s.add(fieldNumber(m, n))
	}
	return s
}

func (s *fieldSet) add(n protowire.Number) {
	if n < 64 {
		*s |= 1 << n
	}
}

// has reports n in s; a field numbered 64 or more is always read.
func (s fieldSet) has(n protowire.Number) bool { return n >= 64 || s&(1<<n) != 0 }

// decodeFields decodes the top-level fields of a stored request that keep holds (all
// when keep is nil), skipping the others' bytes: a listing that shows a few fields of
// many requests does not decode their titles, rota and notes.
func decodeFields(v []byte, keep *fieldSet, r *requestsv1.BorrowingRequest) error {
	if keep == nil {
		return proto.Unmarshal(v, r)
	}
	kept := make([]byte, 0, len(v))
	for rest := v; len(rest) > 0; {
		num, typ, n := protowire.ConsumeTag(rest)
		if n < 0 {
			return protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, rest[n:])
		if m < 0 {
			return protowire.ParseError(m)
		}
		if keep.has(num) {
			kept = append(kept, rest[:n+m]...)
		}
		rest = rest[n+m:]
	}
	return proto.Unmarshal(kept, r)
}

func fieldNumber(m proto.Message, name string) protowire.Number {
	return m.ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(name)).Number()
}

// readHeld reads held from a stored request's bytes without decoding the rest (a
// re-import asks it of every request in its window). It reports false for anything it
// does not read exactly as proto.Unmarshal would (a singular field present twice, which
// the store never writes but decoding would merge, or malformed bytes): the caller then
// decodes the whole record.
func readHeld(v []byte) (held, bool) {
	var h held
	var sawName, sawRef bool
	for len(v) > 0 {
		num, typ, n := protowire.ConsumeTag(v)
		if n < 0 {
			return h, false
		}
		v = v[n:]
		switch {
		case num == fieldName && typ == protowire.BytesType:
			s, n := protowire.ConsumeBytes(v)
			if n < 0 || sawName {
				return h, false
			}
			h.name, sawName, v = string(s), true, v[n:]
		case num == fieldExternalRef && typ == protowire.BytesType:
			ref, n := protowire.ConsumeBytes(v)
			if n < 0 || sawRef {
				return h, false
			}
			lm, ok := readLastModified(ref)
			if !ok {
				return h, false
			}
			h.lastModified, sawRef, v = lm, true, v[n:]
		case num == fieldWarnings && typ == protowire.BytesType:
			b, n := protowire.ConsumeBytes(v)
			if n < 0 {
				return h, false
			}
			w := &typev1.DataWarning{}
			if proto.Unmarshal(b, w) != nil {
				return h, false
			}
			h.warnings, v = append(h.warnings, w), v[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, v)
			if n < 0 {
				return h, false
			}
			v = v[n:]
		}
	}
	return h, true
}

// readLastModified reads last_modified_time from an ExternalReference's bytes.
func readLastModified(v []byte) (*timestamppb.Timestamp, bool) {
	var lm *timestamppb.Timestamp
	for len(v) > 0 {
		num, typ, n := protowire.ConsumeTag(v)
		if n < 0 {
			return nil, false
		}
		v = v[n:]
		if num == fieldLastModified && typ == protowire.BytesType {
			b, n := protowire.ConsumeBytes(v)
			if n < 0 || lm != nil {
				return nil, false
			}
			lm = &timestamppb.Timestamp{}
			if proto.Unmarshal(b, lm) != nil {
				return nil, false
			}
			v = v[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, v)
		if n < 0 {
			return nil, false
		}
		v = v[n:]
	}
	return lm, true
}
