package ctl

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

// protoMessage is a request built by a command.
type protoMessage = proto.Message

// call makes one unary call, limited by --timeout.
func (e *env) call(rpc string, req, resp proto.Message) error {
	ctx, cancel := e.unary()
	defer cancel()
	return e.client.call(ctx, rpc, req, resp)
}

// deleteOf is the delete command of a collection: its Delete RPC with the name and
// --etag.
func deleteOf(collection, rpc string, request func(name, etag string) protoMessage) func(*env, []string) error {
	return func(e *env, pos []string) error {
		if err := wantArgs(pos, "ID"); err != nil {
			return err
		}
		name := resourceName(collection, pos[0])
		if err := e.call(rpc, request(name, e.o.etag), &emptypb.Empty{}); err != nil {
			return err
		}
		if e.out.format == formatTable {
			fmt.Fprintf(e.out.w, "deleted %s\n", sanitize(name))
			return nil
		}
		return e.out.print(&emptypb.Empty{}, nil)
	}
}
