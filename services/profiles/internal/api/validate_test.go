package api

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
)

// FuzzValidateProfile: any profile a caller can encode must be validated without a
// panic (nil sub-messages, unknown enum numbers, extreme dates and sizes).
func FuzzValidateProfile(f *testing.F) {
	seed, _ := proto.Marshal(systemPart("integrationProfiles/X"))
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		p := &profilesv1.IntegrationProfile{}
		if proto.Unmarshal(data, p) != nil {
			return
		}
		normalize(p)
		_ = validateProfile(p, "integration_profile.", time.Now())
		_ = readiness(p, p.ApiKeySet)
		_ = validateAPIKey(p.ApiKey, "api_key")
	})
}
