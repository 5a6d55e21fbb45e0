package app

import (
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
)

// TestAuditTrailsOverREST: changes made through the gateway appear in each service's
// audit trail at its own route, under the principal whose token the gateway forwarded,
// and the credential a change set is named, never shown.
func TestAuditTrailsOverREST(t *testing.T) {
	base, _, _ := realSuite(t)
	const secret = "libris-api-key-0123456789abcdef"
	do(t, "POST", base+"/v1/integrationProfiles", `{"code":"GUB","displayName":"GUB","apiKey":"`+secret+`"}`).expect(t, http.StatusOK)
	do(t, "POST", base+"/v1/partners", `{"code":"ABC","displayName":"ABC","system":"EXTERNAL_SYSTEM_LIBRIS"}`).expect(t, http.StatusOK)
	do(t, "POST", base+"/v1/partners", `{"code":"XYZ","displayName":"XYZ","system":"EXTERNAL_SYSTEM_LIBRIS"}`).expect(t, http.StatusOK)

	tests := []struct {
		path     string
		method   string
		resource string
		fields   string
	}{
		{"/v1/services/profiles/auditEvents", "CreateIntegrationProfile", "integrationProfiles/GUB", "code display_name integration_type api_key"},
		{"/v1/services/mapping/auditEvents?resource=partners/ABC", "CreatePartner", "partners/ABC", "code display_name status system"},
	}
	for _, tt := range tests {
		r := do(t, "GET", base+tt.path, "")
		if strings.Contains(string(r.body), secret) {
			t.Errorf("GET %s returned the API key", tt.path)
		}
		events, _ := r.expect(t, http.StatusOK)["auditEvents"].([]any)
		if len(events) != 1 {
			t.Fatalf("GET %s: %d events, want 1: %s", tt.path, len(events), r.body)
		}
		ev := events[0].(map[string]any)
		var fields []string
		for _, f := range ev["changedFields"].([]any) {
			fields = append(fields, f.(string))
		}
		if ev["principal"] != "gateway-test" || ev["method"] != tt.method || ev["resource"] != tt.resource ||
			ev["action"] != "AUDIT_ACTION_CREATE" || strings.Join(fields, " ") != tt.fields || ev["eventTime"] == nil {
			t.Errorf("GET %s: event %v", tt.path, ev)
		}
	}
	// The mapping trail unfiltered holds both partners, newest first.
	all := do(t, "GET", base+"/v1/services/mapping/auditEvents?pageSize=1", "").expect(t, http.StatusOK)
	if ev := all["auditEvents"].([]any)[0].(map[string]any); ev["resource"] != "partners/XYZ" || all["nextPageToken"] == "" {
		t.Errorf("first page of the mapping trail: %v", all)
	}
	// A filter for another service's resource is a 400 naming the field.
	e := do(t, "GET", base+"/v1/services/mapping/auditEvents?resource=integrationProfiles/GUB", "").expectError(t, http.StatusBadRequest, codes.InvalidArgument, "INVALID_ARGUMENT")
	if len(e.Violations) != 1 || e.Violations[0].Field != "resource" {
		t.Errorf("violations = %+v", e.Violations)
	}
	// Only the two services have a trail route.
	do(t, "GET", base+"/v1/services/harvester/auditEvents", "").expectError(t, http.StatusNotFound, codes.NotFound, "ROUTE_NOT_FOUND")
}
