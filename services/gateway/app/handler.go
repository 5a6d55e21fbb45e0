package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/interloan/interloan/gen"
	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/logging"
)

// Defaults of Options.
const (
	DefaultMaxBodyBytes    = 1 << 20
	DefaultBodyReadTimeout = 30 * time.Second
)

// Options tune NewHandler; the zero value gives the production defaults.
type Options struct {
	// MaxBodyBytes bounds a request body; a larger one is refused with 413.
	MaxBodyBytes int64
	// BodyReadTimeout bounds reading a request body; a client that sends it slower gets
	// 408. (The server cannot use http.Server.ReadTimeout: it would cut watch streams.)
	BodyReadTimeout time.Duration
	// Logger receives upstream failures; nil discards them.
	Logger *slog.Logger
	// CORSAllowedOrigins are the exact origins (scheme://host[:port]) browsers may call
	// the API from; none means no CORS headers at all.
	CORSAllowedOrigins []string
}

type gateway struct {
	api     *runtime.ServeMux
	health  []upstreamHealth // sorted by name, so /readyz lists them in a stable order
	openAPI *staticAsset
	opts    Options
	origins map[string]bool // CORS
}

type upstreamHealth struct {
	name   string
	client healthpb.HealthClient
}

// NewHandler builds the gateway's whole HTTP surface over the upstream connections: the
// REST routes of the four public services, /openapi.json, its rendered reference at /docs
// (reference.go), /healthz and /readyz, wrapped in OpenTelemetry instrumentation. It
// needs no listener, so tests can serve it with httptest.
func NewHandler(up Upstreams, o Options) (http.Handler, error) {
	if up.Profiles == nil || up.Mapping == nil || up.Harvester == nil || up.Requests == nil {
		return nil, errors.New("gateway: every upstream connection is required")
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.BodyReadTimeout <= 0 {
		o.BodyReadTimeout = DefaultBodyReadTimeout
	}
	if o.Logger == nil {
		o.Logger = logging.Discard()
	}
	origins, err := parseOrigins(o.CORSAllowedOrigins)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	doc := gen.OpenAPI()
	if !json.Valid(doc) {
		return nil, errors.New("gateway: the embedded OpenAPI document is not valid JSON")
	}
	g := &gateway{
		openAPI: newStaticAsset("application/json", doc, false),
		opts:    o,
		origins: origins,
		health: []upstreamHealth{
			{"harvester", healthpb.NewHealthClient(up.Harvester)},
			{"mapping", healthpb.NewHealthClient(up.Mapping)},
			{"profiles", healthpb.NewHealthClient(up.Profiles)},
			{"requests", healthpb.NewHealthClient(up.Requests)},
		},
	}
	g.api = runtime.NewServeMux(
		// lowerCamelCase JSON (AIP default), unset fields omitted, and unknown request
		// fields refused: a misspelt field must be a 400, not silently ignored.
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{UseProtoNames: false, EmitUnpopulated: false},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}),
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithOutgoingHeaderMatcher(outgoingHeader),
		runtime.WithErrorHandler(g.httpError),
		runtime.WithStreamErrorHandler(g.streamError),
		runtime.WithRoutingErrorHandler(g.routingError),
		runtime.WithMetadata(nameSpan),
		runtime.WithForwardResponseOption(setETag),
		// A POST must stay a POST: no form-encoded fallback to GET and no
		// X-HTTP-Method-Override, so what a proxy or policy sees is what runs.
		runtime.WithDisablePathLengthFallback(),
		runtime.WithDisableHTTPMethodOverride(),
	)
	// The generated Register functions take a context only for their signature; each
	// request runs under its own request context. Every upstream is reached through
	// preconditionConn, which turns If-Match into the request's etag.
	ctx := context.Background()
	for _, reg := range []struct {
		name string
		err  error
	}{
		{"profiles", profilesv1.RegisterProfileServiceHandlerClient(ctx, g.api, profilesv1.NewProfileServiceClient(preconditionConn{up.Profiles}))},
		{"mapping", mappingv1.RegisterMappingServiceHandlerClient(ctx, g.api, mappingv1.NewMappingServiceClient(preconditionConn{up.Mapping}))},
		{"harvester", harvesterv1.RegisterHarvesterServiceHandlerClient(ctx, g.api, harvesterv1.NewHarvesterServiceClient(preconditionConn{up.Harvester}))},
		{"requests", requestsv1.RegisterRequestServiceHandlerClient(ctx, g.api, requestsv1.NewRequestServiceClient(preconditionConn{up.Requests}))},
	} {
		if reg.err != nil {
			return nil, fmt.Errorf("gateway: register %s routes: %w", reg.name, reg.err)
		}
	}
	return otelhttp.NewHandler(g, "gateway", otelhttp.WithFilter(func(r *http.Request) bool {
		return r.URL.Path != "/healthz" && r.URL.Path != "/readyz" // probes would drown the traces
	})), nil
}

// ServeHTTP routes by exact path rather than through an http.ServeMux, so that otelhttp
// keeps the route-template span name nameSpan sets instead of a catch-all pattern.
func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if g.cors(w, r) {
		return
	}
	switch r.URL.Path {
	case "/healthz":
		getOnly(w, r, g.healthz)
	case "/readyz":
		getOnly(w, r, g.readyz)
	case "/openapi.json":
		getOnly(w, r, g.openAPI.serve)
	case referencePath:
		getOnly(w, r, serveReference)
	case redocPath:
		getOnly(w, r, redocAsset().serve)
	case redocLicensePath:
		getOnly(w, r, redocLicenseAsset().serve)
	default:
		g.serveAPI(w, r)
	}
}

func getOnly(w http.ResponseWriter, r *http.Request, h http.HandlerFunc) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h(w, r)
}

func (g *gateway) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, "ok\n")
}

// readyz is 200 when every upstream answers SERVING, else 503 naming the others. The
// upstreams are asked at once so one that hangs cannot use up the others' time.
func (g *gateway) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	ready := make([]bool, len(g.health))
	var wg sync.WaitGroup
	for i, u := range g.health {
		wg.Go(func() {
			resp, err := u.client.Check(ctx, &healthpb.HealthCheckRequest{})
			ready[i] = err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
		})
	}
	wg.Wait()
	var down []string
	for i, ok := range ready {
		if !ok {
			down = append(down, g.health[i].name)
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	if len(down) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %v\n", down)
		return
	}
	_, _ = io.WriteString(w, "ready\n")
}

// serveAPI reads the body under the size and time limits before routing: grpc-gateway
// would read it whole into memory anyway, and doing it here lets an oversized or slow
// body get its own status (413, 408) instead of a generic decoding error.
func (g *gateway) serveAPI(w http.ResponseWriter, r *http.Request) {
	// Path and query values become proto strings, which must be UTF-8: refuse them here
	// with a 400 rather than let marshalling fail later as a 500 without a reason.
	query, queryErr := url.ParseQuery(r.URL.RawQuery) // once, for both uses below
	if invalidUTF8(r.URL.Path, query) {
		g.reject(w, r, http.StatusBadRequest, gatewayStatus(codes.InvalidArgument, "MALFORMED_REQUEST",
			"the request path or query is not valid UTF-8 once percent-decoded", nil).Err())
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		if r.ContentLength > g.opts.MaxBodyBytes {
			w.Header().Set("Connection", "close") // do not read a body we refuse
			g.reject(w, r, http.StatusRequestEntityTooLarge, g.tooLarge())
			return
		}
		rc := http.NewResponseController(w)
		// Best effort: a ResponseWriter that cannot set deadlines (tests) just has none.
		_ = rc.SetReadDeadline(time.Now().Add(g.opts.BodyReadTimeout))
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.opts.MaxBodyBytes))
		if err != nil {
			// Close the connection after the answer: otherwise net/http would try to
			// drain the rest of the body first, and a slow client would hold it.
			// The deadline stays, so that drain cannot block either.
			w.Header().Set("Connection", "close")
			var tooBig *http.MaxBytesError
			switch {
			case errors.As(err, &tooBig):
				g.reject(w, r, http.StatusRequestEntityTooLarge, g.tooLarge())
			case errors.Is(err, os.ErrDeadlineExceeded):
				g.reject(w, r, http.StatusRequestTimeout, gatewayStatus(codes.DeadlineExceeded, "REQUEST_BODY_TIMEOUT",
					fmt.Sprintf("the request body was not received within %s", g.opts.BodyReadTimeout), nil).Err())
			default:
				g.reject(w, r, http.StatusBadRequest, gatewayStatus(codes.InvalidArgument, "MALFORMED_REQUEST",
					"the request body could not be read", nil).Err())
			}
			return
		}
		_ = rc.SetReadDeadline(time.Time{}) // the body is read; watch streams must not time out
		// A shallow copy: a handler must not change its caller's request.
		r = r.WithContext(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	if queryErr == nil { // grpc-gateway reports a malformed query itself
		r = snakeMasks(r, query)
	}
	cond, err := readConditions(r)
	if err != nil {
		// The error handler answers it as made: 412 for a weak If-Match, 400 (from
		// INVALID_ARGUMENT) for a malformed one.
		_, out := runtime.MarshalerForRequest(g.api, r)
		runtime.HTTPError(r.Context(), g.api, out, w, r, err)
		return
	}
	g.api.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), conditionsKey{}, cond)))
}

// invalidUTF8 reports whether the decoded path or a decoded query key or value is not
// valid UTF-8.
func invalidUTF8(path string, query url.Values) bool {
	if !utf8.ValidString(path) {
		return true
	}
	for k, vs := range query {
		if !utf8.ValidString(k) || slices.ContainsFunc(vs, func(v string) bool { return !utf8.ValidString(v) }) {
			return true
		}
	}
	return false
}

func (g *gateway) tooLarge() error {
	limit := strconv.FormatInt(g.opts.MaxBodyBytes, 10)
	return gatewayStatus(codes.InvalidArgument, "REQUEST_TOO_LARGE",
		"the request body exceeds "+limit+" bytes", map[string]string{"limit_bytes": limit}).Err()
}

// reject answers with the gateway's JSON error body (google.rpc.Status) and httpStatus.
func (g *gateway) reject(w http.ResponseWriter, r *http.Request, httpStatus int, err error) {
	_, out := runtime.MarshalerForRequest(g.api, r)
	runtime.HTTPError(r.Context(), g.api, out, w, r, &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: err})
}

// incomingHeader forwards what grpc-gateway's default matcher forwards (the permanent
// HTTP headers, as grpcgateway-<name> metadata) except credentials. grpc-gateway passes
// every Authorization header on as `authorization` metadata by itself, before any
// matcher runs; a second copy under grpcgateway-authorization would only be one more
// place a token could leak from. Cookies are not how this API authenticates.
func incomingHeader(key string) (string, bool) {
	switch textproto.CanonicalMIMEHeaderKey(key) {
	case "Authorization", "Cookie":
		return "", false
	}
	return runtime.DefaultHeaderMatcher(key)
}

// outgoingHeader passes upstream response metadata on as Grpc-Metadata-<key> headers,
// as grpc-gateway does by default, but not the gRPC transport's own content-type, which
// would tell a REST client nothing but the gateway's inner workings.
func outgoingHeader(key string) (string, bool) {
	if strings.EqualFold(key, "content-type") {
		return "", false
	}
	return runtime.MetadataHeaderPrefix + key, true
}

// nameSpan names the request's span after its route template, e.g.
// "GET /v1/{name=integrationProfiles/*}" (OpenTelemetry's http.route), rather than the
// bare method. It is a metadata annotator only because that is where grpc-gateway makes
// the template known; it adds no metadata.
func nameSpan(ctx context.Context, r *http.Request) metadata.MD {
	if pattern, ok := runtime.HTTPPathPattern(ctx); ok {
		span := trace.SpanFromContext(ctx)
		span.SetName(r.Method + " " + pattern)
		span.SetAttributes(attribute.String("http.route", pattern))
	}
	return nil
}

// rpcService is the full service name of the RPC a route forwards to, if known.
func rpcService(ctx context.Context) string {
	m, ok := runtime.RPCMethod(ctx)
	if !ok {
		return ""
	}
	svc, _, _ := strings.Cut(strings.TrimPrefix(m, "/"), "/")
	return svc
}
