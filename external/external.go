// Package external is the suite's one home for the external ILL systems it imports from.
// Each system lives in a folder of its own (libris, netpunkt) and describes itself with a
// connector.System; the registry below lists them. Profiles, mapping and the harvester
// look a system up here rather than switching on it, so adding a system is a new folder
// plus one line in systems.
package external

import (
	"fmt"
	"strings"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"

	"github.com/interloan/interloan/external/connector"
	"github.com/interloan/interloan/external/libris"
	"github.com/interloan/interloan/external/netpunkt"
)

// systems is the registry: every external system the suite can import from.
var systems = []*connector.System{
	libris.System,
	netpunkt.System,
}

// Lookup returns the system with the enum value e; ok is false for an unknown or
// unspecified value.
func Lookup(e typev1.ExternalSystem) (s *connector.System, ok bool) {
	for _, s := range systems {
		if s.Enum == e {
			return s, true
		}
	}
	return nil, false
}

// Of returns the system of profile p (its system field); ok is false when p names none
// or an unknown one.
func Of(p *profilesv1.IntegrationProfile) (*connector.System, bool) { return Lookup(p.GetSystem()) }

// Configured returns the system whose configuration block p holds, or nil when p holds
// none.
func Configured(p *profilesv1.IntegrationProfile) *connector.System {
	for _, s := range systems {
		if _, ok := s.Settings(p); ok {
			return s
		}
	}
	return nil
}

// Name returns how staff call system e ("Libris"), or the enum's name for one not
// registered.
func Name(e typev1.ExternalSystem) string {
	if s, ok := Lookup(e); ok {
		return s.Name
	}
	return e.String()
}

// LibraryCode returns the spelling of an external library code of system e that mapping
// stores and looks up; for a system not registered, the code without surrounding spaces.
func LibraryCode(e typev1.ExternalSystem, code string) string {
	if s, ok := Lookup(e); ok {
		return s.LibraryCode(code)
	}
	return strings.TrimSpace(code)
}

// OtherSpelling returns the other accepted spelling of a library code of system e; with
// e unspecified, the first that any system gives (partners are looked up across systems).
func OtherSpelling(e typev1.ExternalSystem, code string) (string, bool) {
	for _, s := range systems {
		if s.OtherSpelling == nil || e != typev1.ExternalSystem_EXTERNAL_SYSTEM_UNSPECIFIED && s.Enum != e {
			continue
		}
		if other, ok := s.OtherSpelling(code); ok {
			return other, true
		}
	}
	return "", false
}

// Settings returns the base URL and own library code of p's system; both are empty when
// p has no registered system or no block for it.
func Settings(p *profilesv1.IntegrationProfile) connector.Settings {
	if s, ok := Of(p); ok {
		set, _ := s.Settings(p)
		return set
	}
	return connector.Settings{}
}

// Connect builds the connector of profile p's system with its credential, first refusing
// a base URL the outbound policy does not allow; the connector calls the system with a
// client that dials through the policy, held to lim (the run's bounds on its calls).
func Connect(o Outbound, p *profilesv1.IntegrationProfile, secret string, lim connector.Limits) (connector.Connector, error) {
	s, ok := Of(p)
	if !ok {
		return nil, fmt.Errorf("no connector for %s", p.GetSystem())
	}
	set, _ := s.Settings(p)
	if err := o.check(set.BaseURL); err != nil {
		return nil, err
	}
	return s.Connect(p, secret, o.client(s.Name), lim)
}
