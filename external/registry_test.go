package external

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"

	"github.com/interloan/interloan/external/connector"
)

// TestRegistryCoversTheAPI: every external system of the API is registered exactly once,
// each profile configuration block belongs to one registered system, and each descriptor
// is complete. Adding a system to the protos without registering it fails here.
func TestRegistryCoversTheAPI(t *testing.T) {
	enums := typev1.ExternalSystem(0).Descriptor().Values()
	for i := range enums.Len() {
		e := typev1.ExternalSystem(enums.Get(i).Number())
		if e == typev1.ExternalSystem_EXTERNAL_SYSTEM_UNSPECIFIED {
			continue
		}
		if _, ok := Lookup(e); !ok {
			t.Errorf("%s is not registered", e)
		}
	}
	seen := map[typev1.ExternalSystem]bool{}
	for _, s := range systems {
		if seen[s.Enum] {
			t.Errorf("%s is registered twice", s.Enum)
		}
		seen[s.Enum] = true
		if s.Name == "" || s.CodeName == "" || s.Validate == nil || s.LibraryCode == nil || s.Connect == nil {
			t.Errorf("%s: incomplete descriptor %+v", s.Enum, s)
		}
		// Block and CodeField must name real fields; Settings panics otherwise.
		if _, ok := s.Settings(&profilesv1.IntegrationProfile{}); ok {
			t.Errorf("%s: an empty profile has its block", s.Name)
		}
	}
	oneof := (&profilesv1.IntegrationProfile{}).ProtoReflect().Descriptor().Oneofs().ByName("system_config")
	for i := range oneof.Fields().Len() {
		f := oneof.Fields().Get(i)
		p := &profilesv1.IntegrationProfile{}
		p.ProtoReflect().Set(f, protoreflect.ValueOfMessage(p.ProtoReflect().NewField(f).Message()))
		sys := Configured(p)
		if sys == nil || sys.Block != f.Name() {
			t.Errorf("profile block %s: configured system %v", f.Name(), sys)
			continue
		}
		// SetSettings writes the same block Settings reads.
		q := &profilesv1.IntegrationProfile{}
		want := "https://example.org/api"
		sys.SetSettings(q, connector.Settings{BaseURL: want, LibraryCode: "CODE"})
		if got, ok := sys.Settings(q); !ok || got.BaseURL != want || got.LibraryCode != "CODE" || Configured(q) != sys {
			t.Errorf("%s: SetSettings then Settings = %+v %v", sys.Name, got, ok)
		}
	}
}
