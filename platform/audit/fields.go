package audit

import (
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// bookkeeping are the standard resource fields (AIP-122 name, AIP-148 times, AIP-154
// etag) that every write sets: listing them would say nothing about what was changed.
var bookkeeping = []protoreflect.Name{"name", "create_time", "update_time", "etag"}

// ChangedFields names the top-level fields of next whose values differ from old's (a
// message of the same type), in field-number order: on a create (old nil) the fields next
// sets. It compares values but returns only names, so it is safe on messages holding
// secrets. The bookkeeping fields and those in skip are left out; those in force are
// listed whatever the values say, for a change the message cannot show (a credential
// stored elsewhere).
func ChangedFields(old, next proto.Message, skip []string, force ...string) []string {
	nm := next.ProtoReflect()
	om := nm.Type().Zero()
	if old != nil {
		om = old.ProtoReflect()
	}
	var out []string
	fields := nm.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		name := string(fd.Name())
		switch {
		case slices.Contains(force, name):
			out = append(out, name)
		case slices.Contains(bookkeeping, fd.Name()) || slices.Contains(skip, name):
		case om.Has(fd) != nm.Has(fd) || om.Has(fd) && !om.Get(fd).Equal(nm.Get(fd)): // deep
			out = append(out, name)
		}
	}
	return out
}
