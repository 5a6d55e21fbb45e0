module github.com/interloan/interloan/fakes

go 1.26.0

require github.com/interloan/interloan/platform v0.0.0

// Sibling modules of this repository; go.work also resolves them, the replaces let
// `go mod tidy` work per module.
replace (
	github.com/interloan/interloan/gen => ../gen
	github.com/interloan/interloan/platform => ../platform
)
