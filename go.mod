module github.com/interloan/interloan

go 1.26.0

require (
	github.com/interloan/interloan/gen v0.0.0
	github.com/interloan/interloan/platform v0.0.0
	github.com/interloan/interloan/services/gateway v0.0.0
	github.com/interloan/interloan/services/harvester v0.0.0
	github.com/interloan/interloan/services/mapping v0.0.0
	github.com/interloan/interloan/services/profiles v0.0.0
	github.com/interloan/interloan/services/requests v0.0.0
)

// The repository's own modules; go.work resolves them too, the replaces let
// `go mod tidy` and a plain `go build` of this module work.
replace (
	github.com/interloan/interloan/gen => ./gen
	github.com/interloan/interloan/platform => ./platform
	github.com/interloan/interloan/services/gateway => ./services/gateway
	github.com/interloan/interloan/services/harvester => ./services/harvester
	github.com/interloan/interloan/services/mapping => ./services/mapping
	github.com/interloan/interloan/services/profiles => ./services/profiles
	github.com/interloan/interloan/services/requests => ./services/requests
)
