package audit

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/timestamppb"

	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/boltdb"
)

var (
	bucketRecords = []byte("records")
	trail         = Trail{
		Service:     "things",
		Collections: []string{"things", "others"},
		Events:      []byte("audit_events"),
		ByResource:  []byte("audit_events_by_resource"),
	}
)

func openDB(t *testing.T) *bolt.DB {
	t.Helper()
	db, err := boltdb.Open(filepath.Join(t.TempDir(), "t.db"), boltdb.Schema{Service: "audit", Version: 1, Buckets: [][]byte{bucketRecords, trail.Events, trail.ByResource}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var when = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// change writes a record and its event in one transaction, the way a store does.
func change(db *bolt.DB, call Call, action typev1.AuditAction, resource string, fields ...string) error {
	return db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketRecords).Put([]byte("record "+resource), []byte(action.String())); err != nil {
			return err
		}
		return trail.Append(tx, call, when, action, resource, fields)
	})
}

func list(t *testing.T, db *bolt.DB, resource string, after []byte, limit int) ([]*typev1.AuditEvent, []byte) {
	t.Helper()
	var out []*typev1.AuditEvent
	var next []byte
	err := db.View(func(tx *bolt.Tx) error {
		var err error
		out, next, err = trail.List(tx, resource, after, limit)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, next
}

func names(events []*typev1.AuditEvent) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.GetName())
	}
	return out
}

func TestAppendRecordsEveryField(t *testing.T) {
	db := openDB(t)
	call := Call{Principal: "ada", Method: "CreateThing", RequestID: "req-1"}
	if err := change(db, call, Create, "things/a", "display_name", "status"); err != nil {
		t.Fatal(err)
	}
	got, next := list(t, db, "", nil, 10)
	if len(got) != 1 || next != nil {
		t.Fatalf("events = %v, next %x", got, next)
	}
	want := &typev1.AuditEvent{
		Name: "services/things/auditEvents/1", EventTime: timestamppb.New(when), Principal: "ada",
		Method: "CreateThing", Resource: "things/a", Action: Create,
		ChangedFields: []string{"display_name", "status"}, RequestId: "req-1",
	}
	if got[0].String() != want.String() {
		t.Errorf("event = %v\nwant    %v", got[0], want)
	}
}

// TestIncompleteEventAbortsTheChange: a store that forgets who or what cannot commit.
func TestIncompleteEventAbortsTheChange(t *testing.T) {
	ok := Call{Principal: "ada", Method: "UpdateThing"}
	tests := []struct {
		name     string
		call     Call
		action   typev1.AuditAction
		resource string
	}{
		{"no principal", Call{Method: "UpdateThing"}, Update, "things/a"},
		{"no method", Call{Principal: "ada"}, Update, "things/a"},
		{"no action", ok, typev1.AuditAction_AUDIT_ACTION_UNSPECIFIED, "things/a"},
		{"unknown action", ok, typev1.AuditAction(99), "things/a"},
		{"no resource", ok, Update, ""},
		{"not a resource name", ok, Update, "things"},
		{"nested name", ok, Update, "things/a/b"},
		{"NUL in name", ok, Update, "things/a\x00b"},
	}
	db := openDB(t)
	for _, tt := range tests {
		if err := change(db, tt.call, tt.action, tt.resource); !errors.Is(err, ErrIncomplete) {
			t.Errorf("%s: %v, want ErrIncomplete", tt.name, err)
		}
	}
	err := db.View(func(tx *bolt.Tx) error {
		if k, _ := tx.Bucket(bucketRecords).Cursor().First(); k != nil {
			return fmt.Errorf("record %q was written without its event", k)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if got, _ := list(t, db, "", nil, 10); len(got) != 0 {
		t.Errorf("events after refused changes: %v", got)
	}
}

// TestRolledBackChangeLeavesNoEvent: the event shares its change's fate, and a rolled
// back event does not use up an id.
func TestRolledBackChangeLeavesNoEvent(t *testing.T) {
	db := openDB(t)
	call := Call{Principal: "ada", Method: "DeleteThing"}
	refused := errors.New("refused after the event was appended")
	err := db.Update(func(tx *bolt.Tx) error {
		if err := trail.Append(tx, call, when, Delete, "things/a", nil); err != nil {
			return err
		}
		return refused
	})
	if !errors.Is(err, refused) {
		t.Fatal(err)
	}
	if got, _ := list(t, db, "", nil, 10); len(got) != 0 {
		t.Fatalf("events = %v", names(got))
	}
	if got, _ := list(t, db, "things/a", nil, 10); len(got) != 0 {
		t.Fatalf("index entries = %v", names(got))
	}
	if err := change(db, call, Delete, "things/a"); err != nil {
		t.Fatal(err)
	}
	if got, _ := list(t, db, "", nil, 10); !slices.Equal(names(got), []string{"services/things/auditEvents/1"}) {
		t.Errorf("events = %v, want id 1", names(got))
	}
}

// TestListNewestFirstByResourceAndPaged covers the order, the filter and resuming.
func TestListNewestFirstByResourceAndPaged(t *testing.T) {
	db := openDB(t)
	call := Call{Principal: "ada", Method: "UpdateThing"}
	// 1 things/a, 2 things/b, 3 things/a, ... 7 things/a; others/a shares no prefix trouble.
	for i := 1; i <= 7; i++ {
		res := "things/a"
		if i%2 == 0 {
			res = "things/b"
		}
		if err := change(db, call, Update, res); err != nil {
			t.Fatal(err)
		}
	}
	if err := change(db, call, Create, "things/ab"); err != nil { // id 8: a prefix of nothing
		t.Fatal(err)
	}
	ids := func(ns ...int) []string {
		var out []string
		for _, n := range ns {
			out = append(out, fmt.Sprintf("services/things/auditEvents/%d", n))
		}
		return out
	}
	tests := []struct {
		resource string
		limit    int
		pages    [][]string
	}{
		{"", 3, [][]string{ids(8, 7, 6), ids(5, 4, 3), ids(2, 1)}},
		{"", 8, [][]string{ids(8, 7, 6, 5, 4, 3, 2, 1)}},
		{"things/a", 2, [][]string{ids(7, 5), ids(3, 1)}},
		{"things/b", 10, [][]string{ids(6, 4, 2)}},
		{"things/ab", 10, [][]string{ids(8)}},
		{"things/none", 10, [][]string{nil}},
	}
	for _, tt := range tests {
		var after []byte
		for i, want := range tt.pages {
			got, next := list(t, db, tt.resource, after, tt.limit)
			if !slices.Equal(names(got), want) {
				t.Errorf("%q page %d = %v, want %v", tt.resource, i, names(got), want)
			}
			if last := i == len(tt.pages)-1; last != (next == nil) {
				t.Errorf("%q page %d: next %x, last page %v", tt.resource, i, next, last)
			}
			after = next
		}
	}
}

type listRequest struct {
	parent, token, resource string
	size                    int32
}

func (r listRequest) GetParent() string    { return r.parent }
func (r listRequest) GetPageSize() int32   { return r.size }
func (r listRequest) GetPageToken() string { return r.token }
func (r listRequest) GetResource() string  { return r.resource }

func TestListFrom(t *testing.T) {
	db := openDB(t)
	call := Call{Principal: "ada", Method: "CreateThing"}
	for _, r := range []string{"things/a", "others/a", "things/a"} {
		if err := change(db, call, Create, r); err != nil {
			t.Fatal(err)
		}
	}
	// Paging with a filter, the token carrying it.
	got, tok, err := trail.ListFrom(db, listRequest{parent: "services/things", resource: "things/a", size: 1})
	if err != nil || !slices.Equal(names(got), []string{"services/things/auditEvents/3"}) || tok == "" {
		t.Fatalf("page 1 = %v %q %v", names(got), tok, err)
	}
	got, tok2, err := trail.ListFrom(db, listRequest{parent: "services/things", resource: "things/a", size: 1, token: tok})
	if err != nil || !slices.Equal(names(got), []string{"services/things/auditEvents/1"}) || tok2 != "" {
		t.Fatalf("page 2 = %v %q %v", names(got), tok2, err)
	}

	bad := []struct {
		name  string
		req   listRequest
		field string
	}{
		{"no parent", listRequest{}, "parent"},
		{"another service", listRequest{parent: "services/other"}, "parent"},
		{"unknown collection", listRequest{parent: "services/things", resource: "partners/a"}, "resource"},
		{"collection only", listRequest{parent: "services/things", resource: "things"}, "resource"},
		{"nested", listRequest{parent: "services/things", resource: "things/a/b"}, "resource"},
		{"control character", listRequest{parent: "services/things", resource: "things/a\x00"}, "resource"},
		{"too long", listRequest{parent: "services/things", resource: "things/" + string(make([]byte, 300))}, "resource"},
		{"negative size", listRequest{parent: "services/things", size: -1}, "page_size"},
		{"token of another filter", listRequest{parent: "services/things", token: tok}, "page_token"},
	}
	for _, tt := range bad {
		_, _, err := trail.ListFrom(db, tt.req)
		e, ok := apierr.As(err)
		if !ok || e.Kind != apierr.KindInvalidArgument || !slices.ContainsFunc(e.Violations, func(v apierr.FieldViolation) bool { return v.Field == tt.field }) {
			t.Errorf("%s: %v, want INVALID_ARGUMENT on %s", tt.name, err, tt.field)
		}
	}
}

func TestCallFrom(t *testing.T) {
	ctx := auth.NewContext(context.Background(), auth.Principal{Name: "ada", Roles: []auth.Role{auth.RoleAdmin}})
	if got := CallFrom(ctx, "CreatePartner", "r1"); got != (Call{Principal: "ada", Method: "CreatePartner", RequestID: "r1"}) {
		t.Errorf("CallFrom = %+v", got)
	}
}

func TestChangedFields(t *testing.T) {
	partner := func(edit func(p *mappingv1.Partner)) *mappingv1.Partner {
		p := &mappingv1.Partner{
			Name: "partners/A", Code: "A", DisplayName: "A", Status: mappingv1.PartnerStatus_PARTNER_STATUS_ACTIVE,
			System: typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS, Contact: &mappingv1.Contact{Email: "a@example.org"},
			CreateTime: timestamppb.New(when), UpdateTime: timestamppb.New(when), Etag: "e1",
		}
		if edit != nil {
			edit(p)
		}
		return p
	}
	base := partner(nil)
	tests := []struct {
		name      string
		old, next *mappingv1.Partner
		skip      []string
		force     []string
		want      []string
	}{
		{"create lists what is set", nil, base, nil, nil, []string{"code", "display_name", "status", "system", "contact"}},
		{"nothing but bookkeeping", base, partner(func(p *mappingv1.Partner) {
			p.UpdateTime, p.Etag = timestamppb.New(when.Add(time.Hour)), "e2"
		}), nil, nil, nil},
		{"scalar and enum", base, partner(func(p *mappingv1.Partner) {
			p.DisplayName, p.Status = "B", mappingv1.PartnerStatus_PARTNER_STATUS_INACTIVE
		}), nil, nil, []string{"display_name", "status"}},
		{"nested message field", base, partner(func(p *mappingv1.Partner) { p.Contact.Email = "b@example.org" }), nil, nil, []string{"contact"}},
		{"message cleared", base, partner(func(p *mappingv1.Partner) { p.Contact = nil }), nil, nil, []string{"contact"}},
		{"skipped", base, partner(func(p *mappingv1.Partner) { p.DisplayName = "B" }), []string{"display_name"}, nil, nil},
		{"forced, in field order", base, partner(func(p *mappingv1.Partner) { p.Contact = nil }), nil, []string{"display_name"}, []string{"display_name", "contact"}},
	}
	for _, tt := range tests {
		got := ChangedFields(tt.old, tt.next, tt.skip, tt.force...) // a typed nil old on create
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := ChangedFields(nil, base, nil); !slices.Equal(got, tests[0].want) {
		t.Errorf("create with an untyped nil: %v, want %v", got, tests[0].want)
	}
}

// TestChangedFieldsNamesNoValues: a changed credential is named, never shown; oneof
// members are named by the member that changed.
func TestChangedFieldsNamesNoValues(t *testing.T) {
	old := &profilesv1.IntegrationProfile{Code: "P", ApiKey: "old-secret", System: typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS,
		SystemConfig: &profilesv1.IntegrationProfile_Libris{Libris: &profilesv1.LibrisConfig{BaseUrl: "https://a.example"}}}
	next := &profilesv1.IntegrationProfile{Code: "P", ApiKey: "new-secret", System: typev1.ExternalSystem_EXTERNAL_SYSTEM_NETPUNKT,
		SystemConfig: &profilesv1.IntegrationProfile_Netpunkt{Netpunkt: &profilesv1.NetpunktConfig{AgencyId: "710100"}}}
	got := ChangedFields(old, next, nil)
	if want := []string{"system", "libris", "netpunkt", "api_key"}; !slices.Equal(got, want) {
		t.Errorf("fields = %v, want %v", got, want)
	}
}
