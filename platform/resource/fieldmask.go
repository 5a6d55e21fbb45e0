package resource

import (
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/interloan/interloan/platform/apierr"
)

// UpdatePaths resolves an AIP-134 update mask against a resource's updatable top-level
// fields. An absent or empty mask means "the updatable fields set in msg"; `*` means every
// updatable field except INPUT_ONLY ones (secrets are never returned, so a resource read
// and written back with `*` would otherwise erase them); otherwise each path must name an
// updatable field or a subfield of one (`libris.base_url`, as the REST gateway derives
// from a PATCH body).
func UpdatePaths(mask *fieldmaskpb.FieldMask, msg proto.Message, updatable []string) ([]string, error) {
	desc := msg.ProtoReflect().Descriptor()
	if len(mask.GetPaths()) == 0 {
		var paths []string
		for _, name := range updatable {
			if msg.ProtoReflect().Has(desc.Fields().ByName(protoreflect.Name(name))) {
				paths = append(paths, name)
			}
		}
		if len(paths) == 0 {
			return nil, apierr.Invalid("update_mask", "nothing to update: no updatable field is set and no update_mask given")
		}
		return paths, nil
	}
	if len(mask.Paths) == 1 && mask.Paths[0] == "*" {
		var paths []string
		for _, name := range updatable {
			if !hasBehavior(desc.Fields().ByName(protoreflect.Name(name)), annotations.FieldBehavior_INPUT_ONLY) {
				paths = append(paths, name)
			}
		}
		return paths, nil
	}
	var v apierr.Violations
	for _, p := range mask.Paths {
		top, _, _ := strings.Cut(p, ".")
		switch {
		case !slices.Contains(updatable, top):
			v.Add("update_mask", "%q is not an updatable field (updatable: %s)", apierr.Truncate(p), strings.Join(updatable, ", "))
		case resolve(desc, p) == nil:
			v.Add("update_mask", "%q does not name a field", apierr.Truncate(p))
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return mask.Paths, nil
}

// ReadPaths resolves an AIP-157 read mask (field `read_mask` of the request) against
// msg's type. It returns nil for the whole resource: an absent or empty mask, or `*`
// alone. Otherwise every path must name a field of msg or a subfield of a singular
// message field (`external_reference.external_id`); paths are returned as given, for
// ApplyPaths to copy into an empty message.
func ReadPaths(mask *fieldmaskpb.FieldMask, msg proto.Message) ([]string, error) {
	paths := mask.GetPaths()
	if len(paths) == 0 || len(paths) == 1 && paths[0] == "*" {
		return nil, nil
	}
	desc := msg.ProtoReflect().Descriptor()
	var v apierr.Violations
	for _, p := range paths {
		switch {
		case p == "*":
			v.Add("read_mask", "`*` (the whole resource) cannot be combined with other paths")
		case resolve(desc, p) == nil:
			v.Add("read_mask", "%q does not name a field of %s", apierr.Truncate(p), desc.Name())
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return paths, nil
}

// CheckImmutable reports (AIP-203) every IMMUTABLE field that in sets to a value other
// than the one stored in cur, under field paths prefixed by prefix (e.g. "partner.").
// Setting an immutable field to its current value is allowed, so a resource read with Get
// can be sent back whole.
func CheckImmutable(cur, in proto.Message, prefix string) error {
	var v apierr.Violations
	c, m := cur.ProtoReflect(), in.ProtoReflect()
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if hasBehavior(fd, annotations.FieldBehavior_IMMUTABLE) && m.Has(fd) && !m.Get(fd).Equal(c.Get(fd)) {
			v.Add(prefix+string(fd.Name()), "cannot be changed after create")
		}
	}
	return v.Err()
}

func hasBehavior(fd protoreflect.FieldDescriptor, b annotations.FieldBehavior) bool {
	if fd == nil {
		return false
	}
	behaviors, _ := proto.GetExtension(fd.Options(), annotations.E_FieldBehavior).([]annotations.FieldBehavior)
	return slices.Contains(behaviors, b)
}

// resolve returns the field a dotted path names, or nil.
func resolve(desc protoreflect.MessageDescriptor, path string) protoreflect.FieldDescriptor {
	segs := strings.Split(path, ".")
	for i, s := range segs {
		fd := desc.Fields().ByName(protoreflect.Name(s))
		if fd == nil {
			return nil
		}
		if i == len(segs)-1 {
			return fd
		}
		if fd.Kind() != protoreflect.MessageKind || fd.IsList() || fd.IsMap() {
			return nil
		}
		desc = fd.Message()
	}
	return nil
}

// ApplyPaths copies the fields named by paths (validated by UpdatePaths or ReadPaths)
// from src into dst. A field unset in src is cleared in dst; setting one member of a oneof
// clears the others. Messages are copied deep, so dst shares nothing with src.
func ApplyPaths(dst, src proto.Message, paths []string) {
	d, s := dst.ProtoReflect(), src.ProtoReflect()
	for _, p := range paths {
		applyPath(d, s, p)
	}
}

func applyPath(dst, src protoreflect.Message, path string) {
	name, rest, nested := strings.Cut(path, ".")
	fd := dst.Descriptor().Fields().ByName(protoreflect.Name(name))
	if nested {
		applyPath(dst.Mutable(fd).Message(), src.Get(fd).Message(), rest)
		return
	}
	if !src.Has(fd) {
		dst.Clear(fd)
		return
	}
	if fd.Message() == nil && !fd.IsList() {
		dst.Set(fd, src.Get(fd))
		return
	}
	// A message, list or map goes through Merge, which copies deep: a message holding
	// only that field, merged into dst with the field cleared.
	one := src.New()
	one.Set(fd, src.Get(fd))
	dst.Clear(fd)
	proto.Merge(dst.Interface(), one.Interface())
}
