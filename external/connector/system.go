package connector

import (
	"fmt"
	"net/http"

	"google.golang.org/protobuf/reflect/protoreflect"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/apierr"
)

// System describes one external ILL system: everything the suite knows about it apart
// from its wire format. Each system's package declares one; the external package lists
// them, and profiles, mapping and the harvester ask that list instead of switching on the
// system themselves.
type System struct {
	// Enum is the system's value on the wire.
	Enum typev1.ExternalSystem
	// Name is how staff call it, e.g. "Libris"; used in messages and reports.
	Name string
	// CodeName is what the system calls a library code, e.g. "sigel".
	CodeName string
	// Block is the IntegrationProfile field (of the system_config oneof) that holds the
	// system's configuration, e.g. "libris": field paths in errors and readiness use it.
	// Every block has a base_url field.
	Block protoreflect.Name
	// CodeField is the block's field holding the profile's own library code, e.g.
	// "library_code".
	CodeField protoreflect.Name

	// Normalize brings the block's values into their stored form (trimmed, canonical
	// spelling of the library code) before validation.
	Normalize func(p *profilesv1.IntegrationProfile)
	// Validate checks the block; field is its path prefix, e.g. "integration_profile.libris.".
	Validate func(v *apierr.Violations, field string, p *profilesv1.IntegrationProfile)

	// LibraryCode turns a library code as the system or staff write it into the one
	// spelling mapping stores and looks up.
	LibraryCode func(code string) string
	// OtherSpelling, when not nil, gives the other accepted spelling of a library code
	// (ok false when code has none), so that a mapping or partner stored under it is found.
	OtherSpelling func(code string) (other string, ok bool)

	// WholeDays is true when the system can only be harvested by whole days.
	WholeDays bool
	// PushesReceipts is true when the system pushes receipts to the harvester, so its
	// profiles take a receipt password.
	PushesReceipts bool

	// Connect builds the connector for a profile of this system with its credential,
	// calling the system with hc and holding it to lim. The caller has checked the base
	// URL against its outbound policy, and hc dials through it.
	Connect func(p *profilesv1.IntegrationProfile, secret string, hc *http.Client, lim Limits) (Connector, error)
}

// block returns the descriptors of the system's profile block and of its base URL and
// library code fields. A System naming fields the API lacks is a programming error that
// every test run meets at once, hence the panic.
func (s *System) block() (blk, base, code protoreflect.FieldDescriptor) {
	blk = (*profilesv1.IntegrationProfile)(nil).ProtoReflect().Descriptor().Fields().ByName(s.Block)
	if blk == nil || blk.Message() == nil || blk.ContainingOneof() == nil {
		panic(fmt.Sprintf("connector: %s: IntegrationProfile has no system_config block %q", s.Name, s.Block))
	}
	base, code = blk.Message().Fields().ByName("base_url"), blk.Message().Fields().ByName(s.CodeField)
	if base == nil || code == nil {
		panic(fmt.Sprintf("connector: %s: block %s lacks base_url or %s", s.Name, s.Block, s.CodeField))
	}
	return blk, base, code
}

// Settings reads the profile's block of this system; ok is false when the profile holds
// none.
func (s *System) Settings(p *profilesv1.IntegrationProfile) (set Settings, ok bool) {
	blk, base, code := s.block()
	m := p.ProtoReflect()
	if !m.Has(blk) {
		return Settings{}, false
	}
	b := m.Get(blk).Message()
	return Settings{BaseURL: b.Get(base).String(), LibraryCode: b.Get(code).String()}, true
}

// SetSettings writes base URL and library code into the profile's block of this system,
// creating the block (and so replacing another system's) when needed; empty values leave
// a field as it is.
func (s *System) SetSettings(p *profilesv1.IntegrationProfile, set Settings) {
	blk, base, code := s.block()
	b := p.ProtoReflect().Mutable(blk).Message()
	if set.BaseURL != "" {
		b.Set(base, protoreflect.ValueOfString(set.BaseURL))
	}
	if set.LibraryCode != "" {
		b.Set(code, protoreflect.ValueOfString(set.LibraryCode))
	}
}

// Settings is what every system's profile block holds.
type Settings struct {
	// BaseURL is the system's API address.
	BaseURL string
	// LibraryCode is the profile's own library as the system knows it (Libris sigel,
	// DBC agency id).
	LibraryCode string
}
