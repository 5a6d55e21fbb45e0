package app

import (
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/interloan/interloan/platform/logging"
)

// realSuite runs the gateway over the real profiles and mapping services and fakes for
// harvester and requests (whose implementations live elsewhere).
func realSuite(t *testing.T) (base string, harvester, requests *fakeUpstream) {
	t.Helper()
	harvester, requests = startFake(t, nil), startFake(t, nil)
	base = startGateway(t, Config{
		ProfilesAddr: startProfiles(t), MappingAddr: startMapping(t),
		HarvesterAddr: harvester.addr, RequestsAddr: requests.addr,
	}, Options{Logger: logging.Discard()})
	return base, harvester, requests
}

// TestProfileLifecycle drives a profile through create, get, list, patch and delete over
// REST against the real profiles service, with the JSON shape and HTTP code of each
// answer, including the errors.
func TestProfileLifecycle(t *testing.T) {
	base, _, _ := realSuite(t)
	url := base + "/v1/integrationProfiles"

	p := do(t, "POST", url, `{"code":"GUB-LIBRIS","displayName":"Libris at GUB"}`).expect(t, http.StatusOK)
	if p["name"] != "integrationProfiles/GUB-LIBRIS" || p["displayName"] != "Libris at GUB" || p["etag"] == "" || p["createTime"] == nil {
		t.Fatalf("created profile = %v", p)
	}
	if _, ok := p["display_name"]; ok {
		t.Error("JSON uses proto names; want lowerCamelCase")
	}
	if _, ok := p["description"]; ok {
		t.Error("an unset field is emitted")
	}
	if _, ok := p["apiKey"]; ok {
		t.Error("apiKey is returned")
	}
	etag := p["etag"].(string)

	// The same code again: 409 with the service's reason.
	e := do(t, "POST", url, `{"code":"GUB-LIBRIS","displayName":"again"}`).expectError(t, http.StatusConflict, codes.AlreadyExists, "PROFILE_ALREADY_EXISTS")
	if e.Metadata["name"] != "integrationProfiles/GUB-LIBRIS" {
		t.Errorf("ErrorInfo metadata = %v", e.Metadata)
	}
	// Invalid input: 400 with the BadRequest field violations intact.
	e = do(t, "POST", url, `{"code":"no spaces allowed","displayName":""}`).expectError(t, http.StatusBadRequest, codes.InvalidArgument, "INVALID_ARGUMENT")
	fields := map[string]bool{}
	for _, v := range e.Violations {
		fields[v.Field] = v.Description != ""
	}
	if !fields["integration_profile.code"] || !fields["integration_profile.display_name"] {
		t.Errorf("field violations = %+v", e.Violations)
	}
	// A field the API does not have is refused, not ignored, and nothing is created.
	e = do(t, "POST", url, `{"code":"TYPO","displayName":"x","dispalyName":"y"}`).expectError(t, http.StatusBadRequest, codes.InvalidArgument, "INVALID_ARGUMENT")
	if !strings.Contains(e.Message, "dispalyName") {
		t.Errorf("message does not name the unknown field: %q", e.Message)
	}
	do(t, "GET", url+"/TYPO", "").expectError(t, http.StatusNotFound, codes.NotFound, "PROFILE_NOT_FOUND")
	// Not JSON at all.
	do(t, "POST", url, `{"code":`).expectError(t, http.StatusBadRequest, codes.InvalidArgument, "INVALID_ARGUMENT")

	got := do(t, "GET", url+"/GUB-LIBRIS", "").expect(t, http.StatusOK)
	if got["etag"] != etag || got["displayName"] != "Libris at GUB" {
		t.Fatalf("get = %v", got)
	}
	e = do(t, "GET", url+"/NOPE", "").expectError(t, http.StatusNotFound, codes.NotFound, "PROFILE_NOT_FOUND")
	if e.Metadata["name"] != "integrationProfiles/NOPE" {
		t.Errorf("ErrorInfo metadata = %v", e.Metadata)
	}

	do(t, "POST", url, `{"code":"A-FIRST","displayName":"First"}`).expect(t, http.StatusOK)
	list := do(t, "GET", url+"?pageSize=1", "").expect(t, http.StatusOK)
	items, _ := list["integrationProfiles"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["name"] != "integrationProfiles/A-FIRST" || list["nextPageToken"] == "" {
		t.Fatalf("list page 1 = %v", list)
	}
	list = do(t, "GET", url+"?pageSize=1&pageToken="+list["nextPageToken"].(string), "").expect(t, http.StatusOK)
	items, _ = list["integrationProfiles"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["name"] != "integrationProfiles/GUB-LIBRIS" {
		t.Fatalf("list page 2 = %v", list)
	}

	// updateMask in the query wins over the fields present in the body: only the
	// description changes.
	upd := do(t, "PATCH", url+"/GUB-LIBRIS?updateMask=description",
		`{"description":"Outgoing requests","displayName":"not applied","etag":"`+etag+`"}`).expect(t, http.StatusOK)
	if upd["description"] != "Outgoing requests" || upd["displayName"] != "Libris at GUB" || upd["etag"] == etag {
		t.Fatalf("patch = %v", upd)
	}
	// Without a mask the fields present in the body are updated (AIP-134).
	upd = do(t, "PATCH", url+"/GUB-LIBRIS", `{"displayName":"Libris, Gothenburg"}`).expect(t, http.StatusOK)
	if upd["displayName"] != "Libris, Gothenburg" || upd["description"] != "Outgoing requests" {
		t.Fatalf("patch without mask = %v", upd)
	}
	// The old etag no longer matches: ABORTED is 409.
	do(t, "PATCH", url+"/GUB-LIBRIS?updateMask=description", `{"description":"x","etag":"`+etag+`"}`).
		expectError(t, http.StatusConflict, codes.Aborted, "ETAG_MISMATCH")
	do(t, "PATCH", url+"/NOPE?updateMask=description", `{"description":"x"}`).
		expectError(t, http.StatusNotFound, codes.NotFound, "PROFILE_NOT_FOUND")

	do(t, "DELETE", url+"/GUB-LIBRIS?etag="+etag, "").expectError(t, http.StatusConflict, codes.Aborted, "ETAG_MISMATCH")
	if del := do(t, "DELETE", url+"/GUB-LIBRIS?etag="+upd["etag"].(string), "").expect(t, http.StatusOK); len(del) != 0 {
		t.Errorf("delete answered %v, want {}", del)
	}
	do(t, "GET", url+"/GUB-LIBRIS", "").expectError(t, http.StatusNotFound, codes.NotFound, "PROFILE_NOT_FOUND")
	do(t, "DELETE", url+"/GUB-LIBRIS", "").expectError(t, http.StatusNotFound, codes.NotFound, "PROFILE_NOT_FOUND")
}

// TestLibraryLifecycle is the same round trip for a mapping-service resource.
func TestLibraryLifecycle(t *testing.T) {
	base, _, _ := realSuite(t)
	url := base + "/v1/libraries"

	lib := do(t, "POST", url, `{"code":"GUB","displayName":"Gothenburg University Library","isResourceSharingLibrary":true}`).expect(t, http.StatusOK)
	if lib["name"] != "libraries/GUB" || lib["isResourceSharingLibrary"] != true || lib["etag"] == "" {
		t.Fatalf("created library = %v", lib)
	}
	do(t, "POST", url, `{"code":"GUB","displayName":"again"}`).expectError(t, http.StatusConflict, codes.AlreadyExists, "LIBRARY_ALREADY_EXISTS")
	e := do(t, "POST", url, `{"displayName":"no code"}`).expectError(t, http.StatusBadRequest, codes.InvalidArgument, "INVALID_ARGUMENT")
	if len(e.Violations) == 0 || !strings.HasSuffix(e.Violations[0].Field, "code") {
		t.Errorf("field violations = %+v", e.Violations)
	}
	do(t, "POST", url, `{"code":"X","displayName":"x","resourceSharing":true}`).expectError(t, http.StatusBadRequest, codes.InvalidArgument, "INVALID_ARGUMENT")

	if got := do(t, "GET", url+"/GUB", "").expect(t, http.StatusOK); got["displayName"] != "Gothenburg University Library" {
		t.Fatalf("get = %v", got)
	}
	do(t, "GET", url+"/KB", "").expectError(t, http.StatusNotFound, codes.NotFound, "LIBRARY_NOT_FOUND")
	list := do(t, "GET", url, "").expect(t, http.StatusOK)
	if items, _ := list["libraries"].([]any); len(items) != 1 {
		t.Fatalf("list = %v", list)
	}

	upd := do(t, "PATCH", url+"/GUB?updateMask=displayName", `{"displayName":"GUB","isResourceSharingLibrary":false}`).expect(t, http.StatusOK)
	if upd["displayName"] != "GUB" || upd["isResourceSharingLibrary"] != true {
		t.Fatalf("patch = %v", upd)
	}
	// The mask in proto spelling works as well.
	upd = do(t, "PATCH", url+"/GUB?update_mask=is_resource_sharing_library", `{"displayName":"ignored","isResourceSharingLibrary":false}`).expect(t, http.StatusOK)
	if upd["displayName"] != "GUB" || upd["isResourceSharingLibrary"] != nil {
		t.Fatalf("patch = %v", upd)
	}
	do(t, "PATCH", url+"/GUB?updateMask=displayName", `{"displayName":"x","etag":"`+lib["etag"].(string)+`"}`).
		expectError(t, http.StatusConflict, codes.Aborted, "ETAG_MISMATCH")
	// A library a mapping points at cannot go: FAILED_PRECONDITION is 400 (grpc-gateway
	// deliberately does not use 412 for it).
	m := do(t, "POST", base+"/v1/libraryMappings", `{"system":"EXTERNAL_SYSTEM_LIBRIS","externalCode":"Gbg","localLibraryCode":"GUB"}`).expect(t, http.StatusOK)
	do(t, "DELETE", url+"/GUB", "").expectError(t, http.StatusBadRequest, codes.FailedPrecondition, "LIBRARY_IN_USE")
	do(t, "DELETE", base+"/v1/"+m["name"].(string), "").expect(t, http.StatusOK)

	do(t, "DELETE", url+"/GUB", "").expect(t, http.StatusOK)
	do(t, "GET", url+"/GUB", "").expectError(t, http.StatusNotFound, codes.NotFound, "LIBRARY_NOT_FOUND")
}
