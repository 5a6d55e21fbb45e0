package ctl

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/interloan/interloan/platform/tlsconfig"
)

// maxResponse bounds what one response (or one line of a stream) may hold, so a
// misdirected --server cannot make the CLI buffer without end.
const maxResponse = 64 << 20

// client calls the REST gateway: one public address with the same authentication and
// TLS as any REST caller, so the CLI needs no access to the services' own ports.
type client struct {
	base  *url.URL
	token string // sent as `Authorization: Bearer`; never printed
	http  *http.Client
}

// clientConfig is what the global flags say about the connection.
type clientConfig struct {
	server string
	token  string
	caFile string
}

// newClient checks the configuration; its errors are usage errors.
func newClient(cfg clientConfig) (*client, error) {
	server := strings.TrimSpace(cfg.server)
	if !strings.Contains(server, "://") {
		server = "https://" + server // host:port alone: the default scheme
	}
	base, err := url.Parse(server)
	if err != nil {
		return nil, fmt.Errorf("--server: %w", err)
	}
	if base.Scheme != "http" && base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("--server %q: want http(s)://host:port", cfg.server)
	}
	if base.User != nil || base.RawQuery != "" || base.Fragment != "" {
		return nil, errors.New("--server: give scheme, host, port and an optional path prefix only (the token goes in --token or --token-file)")
	}
	base.Path = strings.TrimSuffix(base.Path, "/")
	if err := checkToken(cfg.token); err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone() // proxies from the environment, as curl
	if cfg.caFile != "" {
		set, err := tlsconfig.Load(tlsconfig.Config{CAFile: cfg.caFile})
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		transport.TLSClientConfig = set.Client()
	}
	return &client{base: base, token: cfg.token, http: &http.Client{Transport: transport}}, nil
}

// checkToken refuses a token that cannot be a header value. The message never quotes
// the token.
func checkToken(token string) error {
	for _, r := range token {
		if r < 0x21 || r == 0x7f {
			return errors.New("the token contains spaces or control characters; is the token file a single line?")
		}
	}
	return nil
}

// plainTextToRemote reports whether the client would send its token unencrypted to a
// host other than this machine.
func (c *client) plainTextToRemote() bool {
	if c.token == "" || c.base.Scheme == "https" {
		return false
	}
	host := c.base.Hostname()
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// call invokes an RPC through its REST route and decodes the answer into resp.
func (c *client) call(ctx context.Context, rpc string, req, resp proto.Message) error {
	httpResp, err := c.send(ctx, rpc, req)
	if err != nil {
		return err
	}
	defer httpResp.Body.Close()
	body, err := readBody(httpResp)
	if err != nil {
		return err
	}
	if httpResp.StatusCode != http.StatusOK {
		return decodeError(httpResp.StatusCode, body)
	}
	// A newer server may return fields this CLI does not know: show what it knows.
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, resp); err != nil {
		return fmt.Errorf("the answer is not a %s: %w", resp.ProtoReflect().Descriptor().FullName(), err)
	}
	return nil
}

// stream invokes a server-streaming RPC. grpc-gateway sends one JSON object per line,
// {"result": message} or, last, {"error": status}; each result is decoded into a new
// message from newMsg and handed to each. It returns when the server ends the stream,
// each fails or ctx ends.
func (c *client) stream(ctx context.Context, rpc string, req proto.Message, newMsg func() proto.Message, each func(proto.Message) error) error {
	httpResp, err := c.send(ctx, rpc, req)
	if err != nil {
		return err
	}
	defer httpResp.Body.Close()
	if httpResp.StatusCode != http.StatusOK {
		body, err := readBody(httpResp)
		if err != nil {
			return err
		}
		return decodeError(httpResp.StatusCode, body)
	}
	err = readStream(httpResp.Body, newMsg, each)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// readStream decodes grpc-gateway's stream framing from r until it ends.
func readStream(r io.Reader, newMsg func() proto.Message, each func(proto.Message) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxResponse)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var chunk struct {
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(line, &chunk); err != nil {
			return fmt.Errorf("the stream sent something that is not JSON: %w", err)
		}
		if len(chunk.Error) > 0 {
			return decodeError(0, chunk.Error)
		}
		msg := newMsg()
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(chunk.Result, msg); err != nil {
			return fmt.Errorf("the stream sent something that is not a %s: %w", msg.ProtoReflect().Descriptor().FullName(), err)
		}
		if err := each(msg); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("the stream broke: %w", err)
	}
	return nil
}

// readBody reads a whole answer of at most maxResponse bytes.
func readBody(resp *http.Response) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer (HTTP %d): %w", resp.StatusCode, err)
	}
	if len(body) > maxResponse {
		return nil, fmt.Errorf("the answer (HTTP %d) is larger than %d MiB", resp.StatusCode, maxResponse>>20)
	}
	return body, nil
}

// send builds and sends the HTTP request of an RPC: path variables from req's fields,
// then the body or the query from the rest.
func (c *client) send(ctx context.Context, rpc string, req proto.Message) (*http.Response, error) {
	rt, err := routeOf(rpc)
	if err != nil {
		return nil, err
	}
	path, used, err := rt.expand(req.ProtoReflect())
	if err != nil {
		return nil, err
	}
	// path is already escaped segment by segment, and the base has no query (newClient
	// checks): the two join as strings.
	target := c.base.String() + path
	var q url.Values
	var body io.Reader
	switch rt.body {
	case "":
		q = query(req.ProtoReflect(), used)
	case "*":
		rest := proto.Clone(req).ProtoReflect()
		for f := range used {
			if fd := rest.Descriptor().Fields().ByName(protoreflect.Name(f)); fd != nil {
				rest.Clear(fd)
			}
		}
		b, err := protojson.Marshal(rest.Interface())
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	default:
		fd := req.ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(rt.body))
		if fd == nil || fd.Message() == nil {
			return nil, fmt.Errorf("rpc %s: body field %q is not a message", rpc, rt.body)
		}
		b, err := protojson.Marshal(req.ProtoReflect().Get(fd).Message().Interface())
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
		// The other fields (request_id, validate_only) travel in the query.
		skip := map[string]bool{rt.body: true}
		for f := range used {
			skip[f] = true
		}
		q = query(req.ProtoReflect(), skip)
	}
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	httpReq, err := http.NewRequestWithContext(ctx, rt.method, target, body)
	if err != nil {
		return nil, err
	}
	httpReq.Header.Set("Accept", "application/json")
	if body != nil {
		httpReq.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		httpReq.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(httpReq)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &transportError{server: c.base.Redacted(), err: err}
	}
	return resp, nil
}

// transportError is a call that got no HTTP answer.
type transportError struct {
	server string
	err    error
}

func (e *transportError) Error() string {
	cause := e.err
	var uerr *url.Error
	if errors.As(e.err, &uerr) {
		cause = uerr.Err
	}
	msg := fmt.Sprintf("cannot reach %s: %v", e.server, cause)
	// The two mistakes everyone makes once get the fix in the message.
	var unknownCA x509.UnknownAuthorityError
	switch {
	case errors.As(e.err, &unknownCA):
		msg += " (trust the server's CA with --ca-file; interloan up writes it to <data-dir>/tls/ca.crt)"
	case strings.Contains(cause.Error(), "server gave HTTP response to HTTPS client"):
		msg += " (the server speaks plain http: --server http://HOST:PORT)"
	}
	return msg
}

func (e *transportError) Unwrap() error { return e.err }

// apiError is the gateway's answer to a failed call: a google.rpc.Status with the
// canonical code, a message, and its details (ErrorInfo's reason and BadRequest's field
// violations read from them).
type apiError struct {
	httpStatus int    // 0 for an error in a stream
	code       string // canonical name, e.g. NOT_FOUND
	message    string
	reason     string
	violations []string          // "field: description"
	details    []json.RawMessage // as the server sent them, for -o json
}

func (e *apiError) Error() string {
	var b strings.Builder
	b.WriteString(e.code)
	if e.message != "" {
		b.WriteString(": " + e.message)
	}
	if e.reason != "" {
		b.WriteString(" (reason " + e.reason + ")")
	}
	for _, v := range e.violations {
		b.WriteString("\n  " + v)
	}
	return b.String()
}

// decodeError reads a google.rpc.Status body. It is decoded loosely (not with protojson)
// so that detail types this CLI does not know, or a proxy's non-JSON error page, still
// give a useful message.
func decodeError(httpStatus int, body []byte) error {
	var st struct {
		Code    int               `json:"code"`
		Message string            `json:"message"`
		Details []json.RawMessage `json:"details"`
	}
	if err := json.Unmarshal(body, &st); err != nil || st.Code == 0 {
		what := fmt.Sprintf("HTTP %d %s", httpStatus, http.StatusText(httpStatus))
		if httpStatus == 0 {
			what = "error in the stream"
		}
		return &apiError{httpStatus: httpStatus, code: what, message: firstLine(body)}
	}
	// Messages can quote caller input and external data; report sanitizes them on the
	// way to the terminal.
	e := &apiError{httpStatus: httpStatus, code: code.Code(st.Code).String(), message: st.Message, details: st.Details}
	e.reason, e.violations = readDetails(st.Details)
	return e
}

// readDetails finds ErrorInfo's reason and BadRequest's field violations among a
// status's details.
func readDetails(details []json.RawMessage) (reason string, violations []string) {
	for _, raw := range details {
		var d struct {
			Type            string `json:"@type"`
			Reason          string `json:"reason"`
			FieldViolations []struct {
				Field       string `json:"field"`
				Description string `json:"description"`
			} `json:"fieldViolations"`
		}
		if json.Unmarshal(raw, &d) != nil {
			continue
		}
		switch {
		case strings.HasSuffix(d.Type, "/google.rpc.ErrorInfo"):
			reason = d.Reason
		case strings.HasSuffix(d.Type, "/google.rpc.BadRequest"):
			for _, v := range d.FieldViolations {
				violations = append(violations, v.Field+": "+v.Description)
			}
		}
	}
	return reason, violations
}

// firstLine is the start of a body that is not a status, e.g. a proxy's error page.
func firstLine(body []byte) string {
	line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	if r := []rune(line); len(r) > 200 {
		line = string(r[:200]) + "…"
	}
	return line
}
