package ctl

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// list calls a List RPC. Every List request has page_size and page_token and every
// response next_page_token and one repeated field of results (AIP-158), which is all
// list needs to follow the pages with --all; the pages are merged into resp.
func (e *env) list(rpc string, req, resp proto.Message) error {
	if e.o.pageSize < 0 {
		return usagef("--page-size must not be negative")
	}
	r, acc := req.ProtoReflect(), resp.ProtoReflect()
	size, reqToken := r.Descriptor().Fields().ByName("page_size"), r.Descriptor().Fields().ByName("page_token")
	nextToken, results := acc.Descriptor().Fields().ByName("next_page_token"), resultsField(acc.Descriptor())
	if size == nil || reqToken == nil || nextToken == nil || results == nil {
		return fmt.Errorf("%s is not a List RPC with pages", rpc) // a bug here, not the caller's
	}
	r.Set(size, protoreflect.ValueOfInt32(int32(min(e.o.pageSize, 1<<20))))
	token := e.o.pageToken
	seen := map[string]bool{}
	for {
		r.Set(reqToken, protoreflect.ValueOfString(token))
		page := acc.New()
		ctx, cancel := e.unary()
		err := e.client.call(ctx, rpc, req, page.Interface())
		cancel()
		if err != nil {
			return err
		}
		items, all := page.Get(results).List(), acc.Mutable(results).List()
		for i := 0; i < items.Len(); i++ {
			all.Append(items.Get(i))
		}
		token = page.Get(nextToken).String()
		acc.Set(nextToken, protoreflect.ValueOfString(token))
		if !e.o.all || token == "" || seen[token] {
			if token != "" && e.out.format == formatTable {
				fmt.Fprintf(e.stderr, "more results: --page-token %s (or --all)\n", sanitize(token))
			}
			return nil
		}
		seen[token] = true
	}
}

func resultsField(d protoreflect.MessageDescriptor) protoreflect.FieldDescriptor {
	fields := d.Fields()
	for i := 0; i < fields.Len(); i++ {
		if f := fields.Get(i); f.IsList() && f.Message() != nil {
			return f
		}
	}
	return nil
}
