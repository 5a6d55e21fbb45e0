// Command resourceproto prints google/api/resource.proto, the AIP-123 resource
// annotations, as the .proto source that buf needs to compile our API. No module the Go
// proxy serves carries that file as source, but genproto carries its compiled descriptor
// (the one our generated code links against), so printing that descriptor gives exactly
// the definitions the Go runtime registers.
package main

import (
	"fmt"
	"os"

	"github.com/jhump/protoreflect/desc"
	"github.com/jhump/protoreflect/desc/protoprint"
	"google.golang.org/genproto/googleapis/api/annotations"
)

func main() {
	fd, err := desc.WrapFile(annotations.File_google_api_resource_proto)
	if err == nil {
		err = (&protoprint.Printer{}).PrintProtoFile(fd, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "resourceproto:", err)
		os.Exit(1)
	}
}
