package ctl

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The CLI finds each RPC's REST route in the `google.api.http` option compiled into the
// generated descriptors, the same option grpc-gateway serves from, so a route can never
// drift from the gateway's: there is no second copy of the paths to keep in step.

// route is one RPC's HTTP binding.
type route struct {
	method   string // HTTP method
	template string // e.g. /v1/{name=runs/*}:watch
	body     string // "", "*" or the name of the one field sent as the body
}

// routeOf reads the HTTP binding of an RPC given by its gRPC full method name, e.g.
// harvesterv1.HarvesterService_StartRun_FullMethodName.
func routeOf(fullMethod string) (route, error) {
	name := strings.TrimPrefix(fullMethod, "/")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[:i] + "." + name[i+1:]
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		return route{}, fmt.Errorf("rpc %s: %w", fullMethod, err)
	}
	md, ok := d.(protoreflect.MethodDescriptor)
	if !ok {
		return route{}, fmt.Errorf("%s is not an rpc", fullMethod)
	}
	rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
	r := route{body: rule.GetBody()}
	switch p := rule.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		r.method, r.template = "GET", p.Get
	case *annotations.HttpRule_Post:
		r.method, r.template = "POST", p.Post
	case *annotations.HttpRule_Patch:
		r.method, r.template = "PATCH", p.Patch
	case *annotations.HttpRule_Put:
		r.method, r.template = "PUT", p.Put
	case *annotations.HttpRule_Delete:
		r.method, r.template = "DELETE", p.Delete
	default:
		return route{}, fmt.Errorf("rpc %s has no HTTP binding", fullMethod)
	}
	return r, nil
}

// nameError is a resource name that does not fit the route's pattern: the caller's
// mistake, reported before anything is sent.
type nameError struct {
	field, value, pattern string
}

func (e *nameError) Error() string {
	return fmt.Sprintf("%s %q is not a name of the form %s", e.field, e.value, e.pattern)
}

// expand fills the template's variables from req's fields and returns the path and the
// names of the fields it used (they are not sent again in the query or body).
func (r route) expand(req protoreflect.Message) (path string, used map[string]bool, err error) {
	used = map[string]bool{}
	var b strings.Builder
	rest := r.template
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			b.WriteString(rest)
			return b.String(), used, nil
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return "", nil, fmt.Errorf("malformed route template %q", r.template)
		}
		b.WriteString(rest[:open])
		variable := rest[open+1 : open+end]
		rest = rest[open+end+1:]
		field, pattern, ok := strings.Cut(variable, "=")
		if !ok {
			pattern = "*"
		}
		value, ok := stringAt(req, field)
		if !ok {
			// Every binding names a string field, top-level or in the body's resource
			// (`integration_profile.name`).
			return "", nil, fmt.Errorf("route %q: unsupported variable %q", r.template, variable)
		}
		escaped, ok := matchName(value, pattern)
		if !ok {
			return "", nil, &nameError{field: field, value: value, pattern: pattern}
		}
		b.WriteString(escaped)
		used[field] = true
	}
}

// stringAt reads the string field at a dotted path of m, e.g. `library.name`.
func stringAt(m protoreflect.Message, path string) (string, bool) {
	parts := strings.Split(path, ".")
	for i, p := range parts {
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(p))
		switch {
		case fd == nil || fd.IsList() || fd.IsMap():
			return "", false
		case i == len(parts)-1:
			return m.Get(fd).String(), fd.Kind() == protoreflect.StringKind
		case fd.Message() == nil:
			return "", false
		}
		m = m.Get(fd).Message()
	}
	return "", false
}

// matchName checks value against a path pattern such as `runs/*` and returns it with
// each variable segment escaped.
func matchName(value, pattern string) (string, bool) {
	want := strings.Split(pattern, "/")
	got := strings.Split(value, "/")
	if len(got) != len(want) {
		return "", false
	}
	for i, w := range want {
		switch {
		case w == "*":
			if got[i] == "" {
				return "", false
			}
			got[i] = url.PathEscape(got[i])
		case got[i] != w:
			return "", false
		}
	}
	return strings.Join(got, "/"), true
}

// query turns the populated fields of m, except those in skip, into query parameters the
// way grpc-gateway reads them: JSON field names, dotted paths into messages, enum value
// names, RFC 3339 times.
func query(m protoreflect.Message, skip map[string]bool) url.Values {
	q := url.Values{}
	addQuery(q, "", m, skip)
	return q
}

func addQuery(q url.Values, prefix string, m protoreflect.Message, skip map[string]bool) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if prefix == "" && skip[string(fd.Name())] {
			return true
		}
		key := prefix + fd.JSONName()
		switch {
		case fd.IsList():
			for i := 0; i < v.List().Len(); i++ {
				q.Add(key, scalar(fd, v.List().Get(i)))
			}
		case fd.Message() != nil && fd.Message().FullName() == "google.protobuf.FieldMask":
			// grpc-gateway reads a mask as its paths, comma-separated.
			q.Set(key, strings.Join(v.Message().Interface().(*fieldmaskpb.FieldMask).GetPaths(), ","))
		case fd.Message() != nil && fd.Message().FullName() == "google.protobuf.Timestamp":
			ts := v.Message().Interface().(*timestamppb.Timestamp)
			q.Set(key, ts.AsTime().Format(time.RFC3339Nano))
		case fd.Message() != nil:
			addQuery(q, key+".", v.Message(), nil)
		default:
			q.Set(key, scalar(fd, v))
		}
		return true
	})
}

func scalar(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	switch fd.Kind() {
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return strconv.Itoa(int(v.Enum()))
	case protoreflect.BytesKind:
		return base64.StdEncoding.EncodeToString(v.Bytes()) // what grpc-gateway decodes
	default:
		return v.String()
	}
}
