package app

import (
	"net/http/httptest"
	"testing"
)

// TestSnakeMasks: both masks, in both spellings of the parameter, reach the services
// with proto field names; other parameters pass as they came.
func TestSnakeMasks(t *testing.T) {
	for _, k := range []string{"updateMask", "update_mask", "readMask", "read_mask"} {
		r := httptest.NewRequest("GET", "/v1/borrowingRequests?pageSize=5&"+k+"=name,externalReference.externalId", nil)
		got := snakeMasks(r, r.URL.Query()).URL.Query()
		if m := got.Get(k); m != "name,external_reference.external_id" {
			t.Errorf("%s = %q", k, m)
		}
		if got.Get("pageSize") != "5" {
			t.Errorf("%s: pageSize = %q", k, got.Get("pageSize"))
		}
		if r.URL.Query().Get(k) != "name,externalReference.externalId" {
			t.Errorf("%s: the caller's request was changed", k)
		}
	}
}
