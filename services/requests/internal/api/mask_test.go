package api_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/server/servertest"
	"github.com/interloan/interloan/services/requests/internal/api"
	"github.com/interloan/interloan/services/requests/internal/store"
)

// The patron of the masking tests: values distinctive enough that finding one in a
// response's bytes can only mean it leaked.
const (
	secretPatronID = "PID-7734-secret"
	secretName     = "Hildegard Vonnegutsdottir"
	secretMessage  = "Ring me on 070-1234567"
	secretEvNote   = "Hildegard called about it"
)

// maskFixture is a ledger holding one request with patron data in every place it can
// be (requester, the patron's message, an event note), served once with every role for
// setting up and once per role with real token authentication and the default policy.
type maskFixture struct {
	fixture
	name string
	as   map[string]requestsv1.RequestServiceClient // by principal name
	who  map[string]auth.Principal
}

func newMaskFixture(t *testing.T) *maskFixture {
	t.Helper()
	f := newFixture(t)
	f.ingestEach(t, item("p", "E1", t0, func(it *requestsv1.IngestItem) {
		it.Requester = &requestsv1.Requester{PatronId: secretPatronID, Name: secretName, Approved: true}
		it.Note = secretMessage
	}))
	list, err := f.requests.ListBorrowingRequests(t.Context(), &requestsv1.ListBorrowingRequestsRequest{})
	noErr(t, err)
	r := list.BorrowingRequests[0]
	_, err = f.requests.AddBorrowingRequestNote(t.Context(), &requestsv1.AddBorrowingRequestNoteRequest{Name: r.Name, Etag: r.Etag, Note: secretEvNote})
	noErr(t, err)

	mf := &maskFixture{fixture: f, name: r.Name, as: map[string]requestsv1.RequestServiceClient{}, who: map[string]auth.Principal{}}
	principals := []auth.Principal{
		{Name: "viewer", Roles: []auth.Role{auth.RoleViewer}},
		{Name: "harvester", Roles: []auth.Role{auth.RoleHarvester}},
		{Name: "operator", Roles: []auth.Role{auth.RoleOperator}},
		{Name: "admin", Roles: []auth.Role{auth.RoleAdmin}},
		{Name: "viewer-operator", Roles: []auth.Role{auth.RoleViewer, auth.RoleOperator}},
	}
	var file strings.Builder
	tokens := map[string]string{}
	for _, p := range principals {
		token, line, err := auth.NewToken(p.Name, p.Roles...)
		noErr(t, err)
		file.WriteString(line + "\n")
		tokens[p.Name] = token
		mf.who[p.Name] = p
	}
	authn, err := auth.Parse([]byte(file.String()))
	noErr(t, err)
	for _, p := range principals {
		conn := servertest.DialAuth(t, authn, func(s *grpc.Server) { requestsv1.RegisterRequestServiceServer(s, f.svc) },
			grpc.WithPerRPCCredentials(auth.BearerToken(tokens[p.Name], false)))
		mf.as[p.Name] = requestsv1.NewRequestServiceClient(conn)
	}
	return mf
}

// TestPatronDataMasking calls every read that returns requests or events as each role:
// viewers and the harvester get patron data masked, admin and operator (also with
// viewer besides) the real patron; methods a role may not call are refused as before.
func TestPatronDataMasking(t *testing.T) {
	mf := newMaskFixture(t)
	const svc = "/interloan.requests.v1.RequestService/"

	// Each read returns the requests and events it answered, and the whole response for
	// the leak check.
	type got struct {
		requests []*requestsv1.BorrowingRequest
		events   []*requestsv1.RequestEvent
		raw      []proto.Message
	}
	reads := []struct {
		method string
		call   func(ctx context.Context, c requestsv1.RequestServiceClient) (got, error)
	}{
		{"GetBorrowingRequest", func(ctx context.Context, c requestsv1.RequestServiceClient) (got, error) {
			r, err := c.GetBorrowingRequest(ctx, &requestsv1.GetBorrowingRequestRequest{Name: mf.name})
			return got{requests: []*requestsv1.BorrowingRequest{r}, raw: []proto.Message{r}}, err
		}},
		{"ListBorrowingRequests", func(ctx context.Context, c requestsv1.RequestServiceClient) (got, error) {
			r, err := c.ListBorrowingRequests(ctx, &requestsv1.ListBorrowingRequestsRequest{})
			return got{requests: r.GetBorrowingRequests(), raw: []proto.Message{r}}, err
		}},
		{"ListRequestEvents", func(ctx context.Context, c requestsv1.RequestServiceClient) (got, error) {
			r, err := c.ListRequestEvents(ctx, &requestsv1.ListRequestEventsRequest{Parent: mf.name})
			return got{events: r.GetRequestEvents(), raw: []proto.Message{r}}, err
		}},
		{"WatchBorrowingRequests", func(ctx context.Context, c requestsv1.RequestServiceClient) (got, error) {
			// From the start: the first message is the import, the second the note.
			stream, err := c.WatchBorrowingRequests(ctx, &requestsv1.WatchBorrowingRequestsRequest{StartAfter: "0"})
			if err != nil {
				return got{}, err
			}
			var g got
			for range 2 {
				r, err := stream.Recv()
				if err != nil {
					return g, err
				}
				g.requests = append(g.requests, r.GetBorrowingRequest())
				g.events = append(g.events, r.GetEvent())
				g.raw = append(g.raw, r)
			}
			return g, nil
		}},
	}

	for _, tc := range []struct {
		principal string
		sees      bool
	}{
		{"viewer", false},
		{"harvester", false},
		{"operator", true},
		{"admin", true},
		{"viewer-operator", true},
	} {
		for _, rd := range reads {
			t.Run(tc.principal+"/"+rd.method, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel() // ends the watch stream
				p := mf.who[tc.principal]
				g, err := rd.call(ctx, mf.as[tc.principal])
				if !auth.DefaultPolicy().Allows(svc+rd.method, &p) {
					if status.Code(err) != codes.PermissionDenied {
						t.Fatalf("want PERMISSION_DENIED, got %v", err)
					}
					return
				}
				noErr(t, err)
				if len(g.requests) == 0 && len(g.events) == 0 {
					t.Fatal("the read answered nothing to check")
				}
				checkPatronData(t, g.requests, g.events, tc.sees)
				if !tc.sees {
					for _, m := range g.raw {
						requireNoPatronData(t, m)
					}
				}
			})
		}
	}

	// Masking is a view: the ledger still holds the patron after the masked reads.
	mf.requireStoredPatron(t)
}

// requireStoredPatron requires the ledger to still hold the fixture's patron data: masking
// (in place, on a copy or on a reduced page) is a view only.
func (mf *maskFixture) requireStoredPatron(t *testing.T) {
	t.Helper()
	id, ok := store.ParseID(strings.TrimPrefix(mf.name, store.CollectionID+"/"))
	if !ok {
		t.Fatalf("name %q", mf.name)
	}
	r, err := mf.store.Get(id)
	noErr(t, err)
	if r.GetRequester().GetName() != secretName || r.GetRequester().GetPatronId() != secretPatronID || r.GetNote() != secretMessage {
		t.Fatalf("the store's request changed: %v", r)
	}
}

// checkPatronData requires every request and event to hold the real patron data (sees)
// or the mask in its place, with approved kept either way.
func checkPatronData(t *testing.T, requests []*requestsv1.BorrowingRequest, events []*requestsv1.RequestEvent, sees bool) {
	t.Helper()
	wantID, wantName, wantMsg, wantNote := api.Masked, api.Masked, api.Masked, api.Masked
	if sees {
		wantID, wantName, wantMsg, wantNote = secretPatronID, secretName, secretMessage, secretEvNote
	}
	for _, r := range requests {
		q := r.GetRequester()
		if q.GetPatronId() != wantID || q.GetName() != wantName || !q.GetApproved() || r.GetNote() != wantMsg {
			t.Errorf("request: requester %v, note %q; want patron_id %q, name %q, approved, note %q", q, r.GetNote(), wantID, wantName, wantMsg)
		}
	}
	for _, e := range events {
		want := wantNote
		if e.GetAction() == "import" {
			want = "" // the import has no note: an empty one stays empty, masked or not
		}
		if e.GetNote() != want {
			t.Errorf("event %s: note %q, want %q", e.GetAction(), e.GetNote(), want)
		}
	}
}

// requireNoPatronData fails if any piece of the patron's data, or a word of it, is
// anywhere in m, in its wire form or its JSON (what the REST gateway would answer).
func requireNoPatronData(t *testing.T, m proto.Message) {
	t.Helper()
	wire, err := proto.Marshal(m)
	noErr(t, err)
	js, err := protojson.Marshal(m)
	noErr(t, err)
	for _, secret := range []string{secretPatronID, secretName, secretMessage, secretEvNote, "Hildegard", "Vonnegutsdottir", "Ring me"} {
		if bytes.Contains(wire, []byte(secret)) || bytes.Contains(js, []byte(secret)) {
			t.Errorf("%q leaked in %s", secret, js)
		}
	}
}

// TestPatronDataMaskedWithoutPrincipal: a call that reaches the service with no
// authenticated principal (never over the server stack, which refuses it first) gets
// patron data masked: the rule fails closed.
func TestPatronDataMaskedWithoutPrincipal(t *testing.T) {
	mf := newMaskFixture(t)
	r, err := mf.svc.GetBorrowingRequest(context.Background(), &requestsv1.GetBorrowingRequestRequest{Name: mf.name})
	noErr(t, err)
	checkPatronData(t, []*requestsv1.BorrowingRequest{r}, nil, false)
	requireNoPatronData(t, r)
}

// TestOperatorActionsShowPatron: an action's answer is the request as the caller may see
// it; for an operator, the real patron.
func TestOperatorActionsShowPatron(t *testing.T) {
	mf := newMaskFixture(t)
	ctx := t.Context()
	r, err := mf.as["operator"].GetBorrowingRequest(ctx, &requestsv1.GetBorrowingRequestRequest{Name: mf.name})
	noErr(t, err)
	r, err = mf.as["operator"].AddBorrowingRequestNote(ctx, &requestsv1.AddBorrowingRequestNoteRequest{Name: mf.name, Etag: r.Etag, Note: "x"})
	noErr(t, err)
	checkPatronData(t, []*requestsv1.BorrowingRequest{r}, nil, true)
	_, err = mf.as["viewer"].AddBorrowingRequestNote(ctx, &requestsv1.AddBorrowingRequestNoteRequest{Name: mf.name, Etag: r.Etag, Note: "x"})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("viewer acting: want PERMISSION_DENIED, got %v", err)
	}
}
