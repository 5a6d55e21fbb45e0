package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/metadata"

	"github.com/interloan/interloan/gen"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/services/requests/internal/store"
)

// restFixture serves the ledger's REST bindings (the generated gateway handlers the
// gateway service registers) over the gRPC fixture, and records which RPC each HTTP call
// reached.
type restFixture struct {
	fixture
	base   string
	mu     sync.Mutex
	called map[string]bool
}

func newRESTFixture(t *testing.T) *restFixture {
	t.Helper()
	rf := &restFixture{fixture: newFixture(t), called: map[string]bool{}}
	mux := runtime.NewServeMux(runtime.WithMetadata(func(ctx context.Context, _ *http.Request) metadata.MD {
		if m, ok := runtime.RPCMethod(ctx); ok {
			rf.mu.Lock()
			rf.called[m[strings.LastIndex(m, "/")+1:]] = true
			rf.mu.Unlock()
		}
		return nil
	}))
	if err := requestsv1.RegisterRequestServiceHandlerClient(t.Context(), mux, rf.requests); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	rf.base = srv.URL
	return rf
}

// call makes one REST call and decodes the JSON answer, requiring the HTTP status.
func (rf *restFixture) call(t *testing.T, method, path, body string, want int) map[string]any {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, rf.base+path, strings.NewReader(body))
	noErr(t, err)
	resp, err := http.DefaultClient.Do(req)
	noErr(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	noErr(t, err)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, raw, want)
	}
	out := map[string]any{}
	noErr(t, json.Unmarshal(raw, &out))
	return out
}

// TestREST drives the lifecycle over REST, through every RequestService route of the
// OpenAPI document, and checks each binding reached its RPC.
func TestREST(t *testing.T) {
	rf := newRESTFixture(t)
	a := rf.seedOne(t, "1", requestsv1.Status_STATUS_CREATED, func(it *requestsv1.IngestItem) { it.Bibliographic.Title = "Röda rummet" })
	other := func(it *requestsv1.IngestItem) { it.Bibliographic.Title = "Hemsöborna" }
	b := rf.seedOne(t, "2", requestsv1.Status_STATUS_REQUEST_SENT, other)
	c := rf.seedOne(t, "3", requestsv1.Status_STATUS_LOANED_TO_PATRON, other)
	_, err := rf.send(t, batch("flag", item("LIB", "3", t0, other, func(it *requestsv1.IngestItem) {
		it.ExternalStatus = requestsv1.Status_STATUS_CANCELLED_BY_PARTNER
	})))
	noErr(t, err)

	got := rf.call(t, "GET", "/v1/"+a, "", 200)
	etag := got["etag"].(string)
	list := rf.call(t, "GET", "/v1/borrowingRequests?query=r%C3%B6da&orderBy=create_time%20desc&pageSize=5", "", 200)
	if items := list["borrowingRequests"].([]any); len(items) != 1 || items[0].(map[string]any)["name"] != a {
		t.Errorf("search: %v", list)
	}
	counts := rf.call(t, "GET", "/v1/borrowingRequests:count?owner=GUB", "", 200)
	if counts["total"] != "3" || counts["needsAttention"] != "1" { // int64 is a JSON string
		t.Errorf("counts: %v", counts)
	}
	allowed := rf.call(t, "GET", "/v1/"+a+":allowedActions", "", 200)
	if allowed["status"] != "STATUS_CREATED" || len(allowed["allowedActions"].([]any)) != 6 {
		t.Errorf("allowed: %v", allowed)
	}

	// An illegal action: FAILED_PRECONDITION (HTTP 400) with the ErrorInfo.
	bad := rf.call(t, "POST", "/v1/"+a+":loanToPatron", "{}", 400)
	if !strings.Contains(bad["message"].(string), "not allowed in status STATUS_CREATED") {
		t.Errorf("illegal action: %v", bad)
	}
	rf.call(t, "POST", "/v1/"+a+":complete", `{"etag":"stale"}`, 409) // ABORTED

	for _, step := range []struct{ verb, body, want string }{
		{"markReadyToSend", `{"etag":"` + etag + `","note":"ok"}`, "STATUS_READY_TO_SEND"},
		{"send", `{"partner":"partners/Hig"}`, "STATUS_REQUEST_SENT"},
		{"receive", `{"format":"FORMAT_PHYSICAL"}`, "STATUS_RECEIVED_PHYSICALLY"},
		{"loanToPatron", `{}`, "STATUS_LOANED_TO_PATRON"},
		{"returnByPatron", `{}`, "STATUS_RETURNED_BY_PATRON"},
		{"returnToPartner", `{}`, "STATUS_RETURNED_TO_PARTNER"},
		{"complete", `{}`, "STATUS_COMPLETED"},
		{"addNote", `{"note":"paid"}`, "STATUS_COMPLETED"},
		{"reactivate", `{}`, "STATUS_RETURNED_TO_PARTNER"},
		{"complete", `{}`, "STATUS_COMPLETED"},
		{"anonymize", `{"note":"policy"}`, "STATUS_COMPLETED"},
	} {
		r := rf.call(t, "POST", "/v1/"+a+":"+step.verb, step.body, 200)
		if r["status"] != step.want {
			t.Fatalf(":%s → %v, want %s", step.verb, r["status"], step.want)
		}
	}
	rf.call(t, "POST", "/v1/"+b+":reject", `{}`, 200)
	rf.call(t, "POST", "/v1/"+b+":reactivate", `{}`, 200)
	rf.call(t, "POST", "/v1/"+b+":cancel", `{"cancelledBy":"CANCELLED_BY_PATRON"}`, 200)
	rf.call(t, "POST", "/v1/"+b+":reactivate", `{}`, 200)
	rf.call(t, "POST", "/v1/"+b+":expire", `{}`, 200)
	if r := rf.call(t, "POST", "/v1/"+c+":resolveAttention", `{"note":"called the lender"}`, 200); r["needsAttention"] == true {
		t.Errorf("resolve: %v", r)
	}
	rf.call(t, "POST", "/v1/"+c+":declareLost", `{}`, 400) // the note is required
	if r := rf.call(t, "POST", "/v1/"+c+":declareLost", `{"note":"never returned"}`, 200); r["status"] != "STATUS_COMPLETED" {
		t.Errorf("declare lost: %v", r)
	}
	// A batch item's error is a google.rpc.Status, details and all.
	failed := rf.call(t, "POST", "/v1/borrowingRequests:batchAct",
		`{"action":"ACTION_CANCEL_BY_STAFF","targets":[{"name":"`+a+`"}],"validateOnly":true}`, 200)
	e := failed["results"].([]any)[0].(map[string]any)["error"].(map[string]any)
	if d, _ := e["details"].([]any); e["code"] != float64(9) || len(d) != 1 ||
		d[0].(map[string]any)["@type"] != "type.googleapis.com/google.rpc.ErrorInfo" || d[0].(map[string]any)["reason"] != "ACTION_NOT_ALLOWED" {
		t.Errorf("batch error over REST: %v", e)
	}
	batch := rf.call(t, "POST", "/v1/borrowingRequests:batchAct",
		`{"action":"ACTION_ADD_NOTE","note":"audit","filter":{"owner":"GUB"},"pageSize":10}`, 200)
	if n := len(batch["results"].([]any)); n != 3 {
		t.Errorf("batch: %v", batch)
	}
	anon := rf.call(t, "POST", "/v1/borrowingRequests:anonymize", `{"olderThanDays":1,"validateOnly":true}`, 200)
	if names, _ := anon["borrowingRequests"].([]any); len(names) != 0 || anon["more"] != false {
		t.Errorf("anonymize: nothing is a day old yet: %v", anon)
	}
	events := rf.call(t, "GET", "/v1/"+a+"/events?pageSize=100", "", 200)
	if n := len(events["requestEvents"].([]any)); n != 13 {
		t.Errorf("%d events of %s", n, a)
	}

	// The change stream over REST: newline-delimited JSON, one object per change.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", rf.base+"/v1/borrowingRequests:watch?startAfter=0&owner=GUB", nil)
	noErr(t, err)
	resp, err := http.DefaultClient.Do(req)
	noErr(t, err)
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	for i := 1; i <= 3; i++ {
		if !lines.Scan() {
			t.Fatalf("watch: %v", lines.Err())
		}
		var msg struct {
			Result map[string]any `json:"result"`
		}
		noErr(t, json.Unmarshal(lines.Bytes(), &msg))
		p, err := store.ParsePosition(msg.Result["position"].(string))
		if err != nil || p.Seq != uint64(i) || msg.Result["event"] == nil {
			t.Errorf("watch line %d: %s", i, lines.Bytes())
		}
	}
	cancel()

	// Every RequestService route of the OpenAPI document was exercised.
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	noErr(t, json.Unmarshal(gen.OpenAPI(), &doc))
	rf.mu.Lock()
	defer rf.mu.Unlock()
	routes := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			rpc, ok := strings.CutPrefix(op.OperationID, "RequestService_")
			if !ok {
				continue
			}
			routes++
			if !rf.called[rpc] {
				t.Errorf("%s %s (%s) was not called", strings.ToUpper(method), path, rpc)
			}
		}
	}
	if routes != 23 {
		t.Errorf("%d RequestService routes in the document", routes)
	}
}
