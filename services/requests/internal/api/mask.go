package api

import (
	"context"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/auth"
)

// Masked replaces each piece of patron data a caller may not see. A fixed text rather
// than an empty string, so a client can tell "hidden from you" from "there is none"
// (an anonymized request, a request without a message); it says nothing about the value
// it replaces, not even its length.
const Masked = "***"

// seesPatronData reports whether the caller of ctx may see patron data: admin and
// operator, who handle requests (an operator loans the item to the patron by name).
// Viewers read the ledger for an overview, and the harvester needs only external
// references to refresh open requests; neither needs to know who borrows what, so they
// get it masked (data minimisation). A context without a principal is
// masked too: should a path ever be served without the auth interceptor, it fails closed.
func seesPatronData(ctx context.Context) bool {
	p, ok := auth.FromContext(ctx)
	return ok && (p.Has(auth.RoleAdmin) || p.Has(auth.RoleOperator))
}

// forCaller is the one place patron data is masked: every handler passes its response
// through it before returning or sending it, so the rule cannot differ between Get,
// List, Watch, the audit trail and the actions. For a caller who may see patron data it
// returns resp itself (nothing to copy on the staff path); for anyone else, a copy with
// every Requester's patron_id and name, every BorrowingRequest's note and every
// RequestEvent's note replaced by Masked wherever they sit in the response (approved
// stays: it is a flag about eligibility, not about who the patron is). It copies
// because the store's messages are not ours to change: a watch may share them, and the
// store itself is left untouched (masking is a view, not a change to the ledger).
func forCaller[M proto.Message](ctx context.Context, resp M) M {
	if !mustMask(ctx, resp) {
		return resp
	}
	out := proto.Clone(resp).(M)
	maskPatronData(out.ProtoReflect())
	return out
}

// forCallerOwned is forCaller for a response built for this call that shares no message
// with the store or anyone else (a read mask's reduced requests: resource.ApplyPaths
// copies deep what it keeps). It masks resp itself, saving forCaller's copy.
func forCallerOwned[M proto.Message](ctx context.Context, resp M) M {
	if mustMask(ctx, resp) {
		maskPatronData(resp.ProtoReflect())
	}
	return resp
}

// mustMask reports whether resp needs masking for the caller of ctx.
func mustMask(ctx context.Context, resp proto.Message) bool {
	return !seesPatronData(ctx) && resp.ProtoReflect().IsValid() && mayHoldPatronData(resp.ProtoReflect().Descriptor())
}

// maskPatronData masks m and every message inside it. It walks the message generically
// rather than naming each response type, so a response that gains a BorrowingRequest or
// RequestEvent field later is masked without anyone remembering to.
func maskPatronData(m protoreflect.Message) {
	switch x := m.Interface().(type) {
	case *requestsv1.Requester:
		x.PatronId, x.Name = mask(x.PatronId), mask(x.Name)
	case *requestsv1.BorrowingRequest:
		x.Note = mask(x.Note) // the patron's message from the external system
	case *requestsv1.RequestEvent:
		x.Note = mask(x.Note) // staff may write anything there, the patron's name included
	}
	for _, fd := range patronFields(m.Descriptor()) {
		if !m.Has(fd) {
			continue
		}
		switch v := m.Get(fd); {
		case fd.IsMap():
			v.Map().Range(func(_ protoreflect.MapKey, e protoreflect.Value) bool {
				maskPatronData(e.Message())
				return true
			})
		case fd.IsList():
			l := v.List()
			for i := range l.Len() {
				maskPatronData(l.Get(i).Message())
			}
		default:
			maskPatronData(v.Message())
		}
	}
}

// descend caches patronFields by message type.
var descend sync.Map // protoreflect.MessageDescriptor → []protoreflect.FieldDescriptor

// patronFields are the fields of a message of type md that maskPatronData descends
// into: those whose message (list element, map value) may hold patron data. Only they
// are visited, not every field set (a timestamp, the bibliography, the rota), which
// keeps the walk cheap where reflection over every field is not.
func patronFields(md protoreflect.MessageDescriptor) []protoreflect.FieldDescriptor {
	if v, ok := descend.Load(md); ok {
		return v.([]protoreflect.FieldDescriptor)
	}
	var fds []protoreflect.FieldDescriptor
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		vd := fd
		if fd.IsMap() {
			vd = fd.MapValue()
		}
		if m := vd.Message(); m != nil && mayHoldPatronData(m) {
			fds = append(fds, fd)
		}
	}
	descend.Store(md, fds)
	return fds
}

// patronTypes are the messages maskPatronData masks fields of.
var patronTypes = map[protoreflect.FullName]bool{
	(*requestsv1.Requester)(nil).ProtoReflect().Descriptor().FullName():        true,
	(*requestsv1.BorrowingRequest)(nil).ProtoReflect().Descriptor().FullName(): true,
	(*requestsv1.RequestEvent)(nil).ProtoReflect().Descriptor().FullName():     true,
}

// holdsPatronData caches mayHoldPatronData by message type.
var holdsPatronData sync.Map // protoreflect.FullName → bool

// mayHoldPatronData reports whether a message of type md can contain patron data: it is
// one of patronTypes, has one inside it at any depth, or has a google.protobuf.Any that
// could. A response that cannot (the ingest stream's results, counts) goes out as it is,
// without the copy and the walk.
func mayHoldPatronData(md protoreflect.MessageDescriptor) bool {
	if v, ok := holdsPatronData.Load(md.FullName()); ok {
		return v.(bool)
	}
	holds := reaches(md, map[protoreflect.FullName]bool{})
	holdsPatronData.Store(md.FullName(), holds)
	return holds
}

func reaches(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) bool {
	name := md.FullName()
	if patronTypes[name] || name == "google.protobuf.Any" {
		return true
	}
	if seen[name] {
		return false // already being looked into further up
	}
	seen[name] = true
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.IsMap() {
			fd = fd.MapValue()
		}
		if m := fd.Message(); m != nil && reaches(m, seen) {
			return true
		}
	}
	return false
}

// mask hides a non-empty value; an empty one stays empty (see Masked).
func mask(s string) string {
	if s == "" {
		return ""
	}
	return Masked
}
