// Package resource holds AIP-122 resource-name parsing, ID validation and etags, shared by
// every service.
package resource

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/interloan/interloan/platform/apierr"
)

// codePattern is the shape of user-chosen IDs (profile, library and partner codes):
// URL-safe so that `collection/{code}` needs no escaping.
var codePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// CodeRule describes codePattern for error messages.
const CodeRule = "must be 1-63 letters, digits, '_', '-' or '.', starting with a letter or digit"

// ValidCode reports whether s is a valid user-chosen ID.
func ValidCode(s string) bool { return codePattern.MatchString(s) }

// Name builds `collection/id`.
func Name(collection, id string) string { return collection + "/" + id }

// ParseName returns the ID in `collection/{id}`; field names the request field for the
// error (e.g. "name").
func ParseName(field, name, collection string) (string, error) {
	id, ok := strings.CutPrefix(name, collection+"/")
	if name == "" {
		return "", apierr.Invalid(field, "is required")
	}
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", apierr.Invalid(field, "must have the form %s/{id}", collection)
	}
	return id, nil
}

// Etag returns an opaque version tag of m: a hash of its deterministic encoding. Callers
// clear m's own etag field first so the tag does not depend on itself.
func Etag(m proto.Message) string {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		// Only possible for invalid UTF-8 in strings, which validation rules out; an
		// unusable etag must still never match a real one.
		return "invalid"
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:10])
}

// Stamp sets the fields the server owns on a resource message: name, create_time (on
// create), update_time and etag, found by those names (AIP-122/148/154). The etag hashes
// the message with its etag cleared, so it changes with every write.
func Stamp(m proto.Message, name string, now time.Time, create bool) {
	etag := stampWithoutEtag(m, name, now, create)
	m.ProtoReflect().Set(etag, protoreflect.ValueOfString(Etag(m)))
}

// StampEncode is Stamp, then proto.Marshal of m, encoding m once instead of twice: the
// etag's hash is of m's encoding without its etag, and those bytes with the etag field
// appended are m's encoding (decoding does not care where a field comes).
func StampEncode(m proto.Message, name string, now time.Time, create bool) ([]byte, error) {
	etag := stampWithoutEtag(m, name, now, create)
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	tag := hex.EncodeToString(sum[:10])
	m.ProtoReflect().Set(etag, protoreflect.ValueOfString(tag))
	return protowire.AppendString(protowire.AppendTag(b, etag.Number(), protowire.BytesType), tag), nil
}

// stampWithoutEtag sets name and times and clears the etag, whose field it returns.
func stampWithoutEtag(m proto.Message, name string, now time.Time, create bool) protoreflect.FieldDescriptor {
	r := m.ProtoReflect()
	fields := r.Descriptor().Fields()
	r.Set(fields.ByName("name"), protoreflect.ValueOfString(name))
	ts := protoreflect.ValueOfMessage(timestamppb.New(now).ProtoReflect())
	if create {
		r.Set(fields.ByName("create_time"), ts)
	}
	r.Set(fields.ByName("update_time"), ts)
	etag := fields.ByName("etag")
	r.Clear(etag)
	return etag
}

// CheckEtag returns ABORTED when a caller-supplied etag differs from the current one.
// An empty supplied etag means "unconditional" (AIP-154).
func CheckEtag(name, supplied, current string) error {
	if supplied != "" && supplied != current {
		return apierr.EtagMismatch(name)
	}
	return nil
}

// Collection returns the collection ID that names of resource message m start with, read
// from its google.api.resource annotation (AIP-123): "integrationProfiles" for a pattern
// `integrationProfiles/{integration_profile}`. The proto is the one place a collection is
// spelled. It panics when m has no annotation, a mistake every test run finds.
func Collection(m proto.Message) string {
	opts := m.ProtoReflect().Descriptor().Options()
	rd, _ := proto.GetExtension(opts, annotations.E_Resource).(*annotations.ResourceDescriptor)
	if rd == nil || len(rd.GetPattern()) == 0 {
		panic(fmt.Sprintf("resource: %s has no google.api.resource pattern", m.ProtoReflect().Descriptor().FullName()))
	}
	collection, _, _ := strings.Cut(rd.GetPattern()[0], "/")
	return collection
}
