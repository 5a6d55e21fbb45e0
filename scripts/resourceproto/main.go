// Command resourceproto prints a google/api proto that buf needs to compile our API but no
// module the Go proxy serves carries as source: resource.proto (the AIP-123 resource
// annotations, the default) or, given "visibility", visibility.proto (which services the
// OpenAPI document leaves out). genproto carries their compiled descriptors (the ones our
// generated code links against), so printing those gives exactly the definitions the Go
// runtime registers.
package main

import (
	"fmt"
	"os"

	"github.com/jhump/protoreflect/desc"
	"github.com/jhump/protoreflect/desc/protoprint"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/genproto/googleapis/api/visibility"
	"google.golang.org/protobuf/reflect/protoreflect"
)

func main() {
	file := map[string]protoreflect.FileDescriptor{
		"resource":   annotations.File_google_api_resource_proto,
		"visibility": visibility.File_google_api_visibility_proto,
	}
	name := "resource"
	if len(os.Args) > 1 {
		name = os.Args[1]
	}
	f, ok := file[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "resourceproto: no file %q (resource or visibility)\n", name)
		os.Exit(2)
	}
	fd, err := desc.WrapFile(f)
	if err == nil {
		err = (&protoprint.Printer{}).PrintProtoFile(fd, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "resourceproto:", err)
		os.Exit(1)
	}
}
