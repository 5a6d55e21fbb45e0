package app

import (
	"net/http"
	"sync"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/logging"
)

// TestConditionalRequests drives ETag, If-None-Match and If-Match over REST against the
// real profiles and mapping services: a stale If-Match is 412 and changes nothing, a
// fresh one succeeds, a matching If-None-Match is 304.
func TestConditionalRequests(t *testing.T) {
	base, _, _ := realSuite(t)
	url := base + "/v1/integrationProfiles"
	p := do(t, "POST", url, `{"code":"GUB-LIBRIS","displayName":"Libris at GUB"}`).expect(t, http.StatusOK)
	etag := p["etag"].(string)
	quoted := `"` + etag + `"`

	// Reads send the etag as a strong ETag; a list (no etag of its own) sends none.
	r := do(t, "GET", url+"/GUB-LIBRIS", "")
	if r.expect(t, http.StatusOK); r.header.Get("ETag") != quoted {
		t.Fatalf("ETag = %q, want %q", r.header.Get("ETag"), quoted)
	}
	if r := do(t, "GET", url, ""); r.header.Get("ETag") != "" {
		t.Errorf("list ETag = %q", r.header.Get("ETag"))
	}
	lib := do(t, "POST", base+"/v1/libraries", `{"code":"GUB","displayName":"GUB"}`).expect(t, http.StatusOK)
	if r := do(t, "GET", base+"/v1/libraries/GUB", ""); r.header.Get("ETag") != `"`+lib["etag"].(string)+`"` {
		t.Errorf("library ETag = %q, body etag %v", r.header.Get("ETag"), lib["etag"])
	}

	// If-None-Match: 304 without a body when it matches (also W/ and *), 200 otherwise.
	for _, inm := range []string{quoted, "W/" + quoted, `"other", ` + quoted, "*"} {
		r := do(t, "GET", url+"/GUB-LIBRIS", "", "If-None-Match", inm)
		if r.code != http.StatusNotModified || len(r.body) != 0 || r.header.Get("ETag") != quoted {
			t.Errorf("If-None-Match %s: HTTP %d, ETag %q, body %q", inm, r.code, r.header.Get("ETag"), r.body)
		}
	}
	do(t, "GET", url+"/GUB-LIBRIS", "", "If-None-Match", `"stale"`).expect(t, http.StatusOK)

	// A stale If-Match: 412 with the service's reason, and nothing changed.
	e := do(t, "PATCH", url+"/GUB-LIBRIS?updateMask=displayName", `{"displayName":"changed"}`, "If-Match", `"0000"`).
		expectError(t, http.StatusPreconditionFailed, codes.Aborted, "ETAG_MISMATCH")
	if e.Metadata["name"] != "integrationProfiles/GUB-LIBRIS" {
		t.Errorf("ErrorInfo metadata = %v", e.Metadata)
	}
	do(t, "DELETE", url+"/GUB-LIBRIS", "", "If-Match", `"0000"`).
		expectError(t, http.StatusPreconditionFailed, codes.Aborted, "ETAG_MISMATCH")
	// The header and the body disagreeing is refused before the service is asked.
	do(t, "PATCH", url+"/GUB-LIBRIS?updateMask=displayName", `{"displayName":"changed","etag":"0000"}`, "If-Match", quoted).
		expectError(t, http.StatusPreconditionFailed, codes.FailedPrecondition, "PRECONDITION_FAILED")
	// A weak tag never matches If-Match; an unquoted one is malformed.
	do(t, "PATCH", url+"/GUB-LIBRIS?updateMask=displayName", `{"displayName":"changed"}`, "If-Match", "W/"+quoted).
		expectError(t, http.StatusPreconditionFailed, codes.FailedPrecondition, "PRECONDITION_FAILED")
	do(t, "PATCH", url+"/GUB-LIBRIS?updateMask=displayName", `{"displayName":"changed"}`, "If-Match", etag).
		expectError(t, http.StatusBadRequest, codes.InvalidArgument, "MALFORMED_REQUEST")
	// If-Match where no etag can carry it (a create) is refused, not ignored.
	do(t, "POST", url, `{"code":"OTHER","displayName":"x"}`, "If-Match", quoted).
		expectError(t, http.StatusBadRequest, codes.InvalidArgument, "MALFORMED_REQUEST")
	do(t, "GET", url+"/OTHER", "").expectError(t, http.StatusNotFound, codes.NotFound, "PROFILE_NOT_FOUND")
	got := do(t, "GET", url+"/GUB-LIBRIS", "").expect(t, http.StatusOK)
	if got["etag"] != etag || got["displayName"] != "Libris at GUB" {
		t.Fatalf("after refused preconditions: %v", got)
	}

	// A fresh If-Match succeeds; the answer carries the new ETag. An etag given only in
	// the body keeps ABORTED's 409.
	r = do(t, "PATCH", url+"/GUB-LIBRIS?updateMask=displayName", `{"displayName":"changed","etag":"`+etag+`"}`, "If-Match", quoted)
	upd := r.expect(t, http.StatusOK)
	if upd["displayName"] != "changed" || r.header.Get("ETag") != `"`+upd["etag"].(string)+`"` || upd["etag"] == etag {
		t.Fatalf("patch = %v, ETag %q", upd, r.header.Get("ETag"))
	}
	do(t, "PATCH", url+"/GUB-LIBRIS?updateMask=displayName", `{"displayName":"x","etag":"`+etag+`"}`).
		expectError(t, http.StatusConflict, codes.Aborted, "ETAG_MISMATCH")
	// If-Match: * is any current version.
	upd = do(t, "PATCH", url+"/GUB-LIBRIS?updateMask=description", `{"description":"d"}`, "If-Match", "*").expect(t, http.StatusOK)
	do(t, "DELETE", url+"/GUB-LIBRIS", "", "If-Match", quoted).
		expectError(t, http.StatusPreconditionFailed, codes.Aborted, "ETAG_MISMATCH")
	do(t, "DELETE", url+"/GUB-LIBRIS", "", "If-Match", `"`+upd["etag"].(string)+`"`).expect(t, http.StatusOK)
	do(t, "GET", url+"/GUB-LIBRIS", "").expectError(t, http.StatusNotFound, codes.NotFound, "PROFILE_NOT_FOUND")
}

// TestIfMatchOnAction checks that an action's If-Match reaches the service as the
// request's top-level etag, and that the service's mismatch is 412.
func TestIfMatchOnAction(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []string
	)
	requests := startFake(t, func(_ string, stream grpc.ServerStream) error {
		var req requestsv1.MarkReadyToSendRequest
		if err := stream.RecvMsg(&req); err != nil {
			return err
		}
		mu.Lock()
		seen = append(seen, req.GetEtag())
		mu.Unlock()
		if req.GetEtag() != "" && req.GetEtag() != "v1" {
			st, _ := status.New(codes.Aborted, "stale").WithDetails(&errdetails.ErrorInfo{Reason: "ETAG_MISMATCH", Domain: apierr.Domain})
			return st.Err()
		}
		return stream.SendMsg(&requestsv1.BorrowingRequest{Name: req.GetName(), Etag: "v2"})
	})
	other := startFake(t, nil)
	base := startGateway(t, Config{ProfilesAddr: other.addr, MappingAddr: other.addr, HarvesterAddr: other.addr, RequestsAddr: requests.addr},
		Options{Logger: logging.Discard()})
	url := base + "/v1/borrowingRequests/1:markReadyToSend"
	r := do(t, "POST", url, `{}`, "If-Match", `"v1"`)
	if r.expect(t, http.StatusOK); r.header.Get("ETag") != `"v2"` {
		t.Errorf("ETag = %q", r.header.Get("ETag"))
	}
	do(t, "POST", url, `{}`, "If-Match", `"v0"`).expectError(t, http.StatusPreconditionFailed, codes.Aborted, "ETAG_MISMATCH")
	do(t, "POST", url, `{"etag":"v0"}`).expectError(t, http.StatusConflict, codes.Aborted, "ETAG_MISMATCH")
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"v1", "v0", "v0"}; len(seen) != 3 || seen[0] != want[0] || seen[1] != want[1] || seen[2] != want[2] {
		t.Errorf("etags the service saw = %q, want %q", seen, want)
	}
}
