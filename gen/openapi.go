// Package gen is the module of generated code: Go messages, gRPC stubs and gateway
// handlers under interloan/, the merged OpenAPI document under openapi/.
//
// This file is the module's only hand-written Go. It sits at the module root, not in
// openapi/, because scripts/gen-proto.sh deletes openapi/ before generating and
// scripts/check-gen.sh diffs openapi/ against fresh output: a Go file there would be
// wiped by `make gen` and flagged as stale by CI. From here go:embed still reaches the
// generated document (a subdirectory), so there is no copy to keep in sync.
package gen

import _ "embed" // the OpenAPI document is compiled into every binary that serves it

//go:embed openapi/interloan.swagger.json
var openAPI string

// OpenAPI returns the merged OpenAPI (Swagger 2.0) document of every REST route, exactly
// as protoc-gen-openapiv2 generated it. Each call returns a fresh copy.
func OpenAPI() []byte { return []byte(openAPI) }
