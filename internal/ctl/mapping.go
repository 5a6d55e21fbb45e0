package ctl

import (
	"cmp"
	"strings"

	"github.com/spf13/pflag"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
)

// libraryFlags, mappingFlags and partnerFlags describe a resource on the command line;
// -f FILE can say everything the API accepts.
type (
	libraryFlags struct {
		displayName     string
		resourceSharing bool
	}
	mappingFlags struct{ system, externalCode, localLibrary string }
	partnerFlags struct {
		displayName, system, status, person, email, phone, address string
	}
)

// systemFilter parses --system when given.
func (e *env) systemFilter() (typev1.ExternalSystem, error) {
	return optionalEnum[typev1.ExternalSystem](e.o.system, "--system")
}

// bindFile adds -f, the resource as JSON or YAML.
func bindFile(s *pflag.FlagSet, o *opts, what string) {
	s.StringVarP(&o.file, "file", "f", "", "the "+what+" as JSON or YAML (the API's message; - for stdin); flags override its fields")
}

// bindChange adds the flags of a create (--request-id) or an update (--etag).
func bindChange(s *pflag.FlagSet, o *opts, create bool) {
	if create {
		s.StringVar(&o.requestID, "request-id", "", "idempotency key: repeating the create returns the first result")
	} else {
		bindEtag(s, o)
	}
}

// flagMask collects the fields of the flags given, for an update mask.
type flagMask struct {
	e    *env
	mask []string
}

// set applies a flag that was given and records its field.
func (m *flagMask) set(flag, field string, apply func() error) error {
	if !m.e.given(flag) {
		return nil
	}
	if err := apply(); err != nil {
		return err
	}
	m.mask = appendNew(m.mask, field)
	return nil
}

// Libraries.

func bindLibrary(create bool) func(*pflag.FlagSet, *opts) {
	return func(s *pflag.FlagSet, o *opts) {
		bindFile(s, o, "library")
		s.StringVar(&o.lib.displayName, "display-name", "", "display name")
		s.BoolVar(&o.lib.resourceSharing, "resource-sharing", false, "the library is a resource-sharing library (owns imported requests)")
		bindChange(s, o, create)
	}
}

func (e *env) libraryFields(l *mappingv1.Library, m *flagMask) error {
	if err := m.set("display-name", "display_name", func() error { l.DisplayName = e.o.lib.displayName; return nil }); err != nil {
		return err
	}
	return m.set("resource-sharing", "is_resource_sharing_library", func() error { l.IsResourceSharingLibrary = e.o.lib.resourceSharing; return nil })
}

func librariesList(e *env, pos []string) error {
	if err := wantArgs(pos); err != nil {
		return err
	}
	resp := &mappingv1.ListLibrariesResponse{}
	if err := e.list(mappingv1.MappingService_ListLibraries_FullMethodName, &mappingv1.ListLibrariesRequest{}, resp); err != nil {
		return err
	}
	return e.out.print(resp, func() view {
		t := table{header: []string{"CODE", "DISPLAY NAME", "RESOURCE SHARING", "UPDATED"}}
		for _, l := range resp.GetLibraries() {
			t.rows = append(t.rows, []string{l.GetCode(), l.GetDisplayName(), yesNo(l.GetIsResourceSharingLibrary()), when(l.GetUpdateTime())})
		}
		return t
	})
}

func libraryDetail(l *mappingv1.Library) view {
	return detail{{"Name", l.GetName()}, {"Display name", l.GetDisplayName()}, {"Resource sharing", yesNo(l.GetIsResourceSharingLibrary())},
		{"Created", when(l.GetCreateTime())}, {"Updated", when(l.GetUpdateTime())}, {"Etag", l.GetEtag()}}
}

func librariesGet(e *env, pos []string) error {
	if err := wantArgs(pos, "CODE"); err != nil {
		return err
	}
	l := &mappingv1.Library{}
	if err := e.call(mappingv1.MappingService_GetLibrary_FullMethodName, &mappingv1.GetLibraryRequest{Name: resourceName("libraries", pos[0])}, l); err != nil {
		return err
	}
	return e.out.print(l, func() view { return libraryDetail(l) })
}

func librariesCreate(e *env, pos []string) error {
	if err := wantArgs(pos, "CODE"); err != nil {
		return err
	}
	l := &mappingv1.Library{}
	if _, err := e.readFile(l); err != nil {
		return err
	}
	l.Code = pos[0]
	if err := e.libraryFields(l, &flagMask{e: e}); err != nil {
		return err
	}
	out := &mappingv1.Library{}
	if err := e.call(mappingv1.MappingService_CreateLibrary_FullMethodName, &mappingv1.CreateLibraryRequest{Library: l, RequestId: e.o.requestID}, out); err != nil {
		return err
	}
	return e.out.print(out, func() view { return libraryDetail(out) })
}

func librariesUpdate(e *env, pos []string) error {
	if err := wantArgs(pos, "CODE"); err != nil {
		return err
	}
	in := &mappingv1.Library{}
	fields, err := e.readFile(in)
	if err != nil {
		return err
	}
	cur := &mappingv1.Library{}
	if err := e.call(mappingv1.MappingService_GetLibrary_FullMethodName, &mappingv1.GetLibraryRequest{Name: resourceName("libraries", pos[0])}, cur); err != nil {
		return err
	}
	m := &flagMask{e: e, mask: replaceFields(cur, in, fields)}
	if err := e.libraryFields(cur, m); err != nil {
		return err
	}
	if len(m.mask) == 0 {
		return usagef("nothing to change: give --display-name, --resource-sharing or -f FILE")
	}
	cur.Etag = cmp.Or(e.o.etag, cur.Etag)
	out := &mappingv1.Library{}
	if err := e.call(mappingv1.MappingService_UpdateLibrary_FullMethodName, &mappingv1.UpdateLibraryRequest{Library: cur, UpdateMask: &fieldmaskpb.FieldMask{Paths: m.mask}}, out); err != nil {
		return err
	}
	return e.out.print(out, func() view { return libraryDetail(out) })
}

// Library mappings.

func bindMapping(create bool) func(*pflag.FlagSet, *opts) {
	return func(s *pflag.FlagSet, o *opts) {
		bindFile(s, o, "library mapping")
		if create {
			s.StringVar(&o.mapping.system, "system", "", "the external system: libris or netpunkt")
			s.StringVar(&o.mapping.externalCode, "external-code", "", "the library's code there (Libris sigel, Netpunkt agency id)")
		}
		s.StringVar(&o.mapping.localLibrary, "local-library", "", "the local library code it maps to")
		bindChange(s, o, create)
	}
}

func (e *env) mappingFields(lm *mappingv1.LibraryMapping, m *flagMask) error {
	f := e.o.mapping
	if err := m.set("system", "system", func() (err error) {
		lm.System, err = parseEnum[typev1.ExternalSystem](f.system, "--system")
		return err
	}); err != nil {
		return err
	}
	if err := m.set("external-code", "external_code", func() error { lm.ExternalCode = f.externalCode; return nil }); err != nil {
		return err
	}
	return m.set("local-library", "local_library_code", func() error { lm.LocalLibraryCode = f.localLibrary; return nil })
}

func mappingDetail(m *mappingv1.LibraryMapping) view {
	return detail{{"Name", m.GetName()}, {"System", enumName(m.GetSystem())}, {"External code", m.GetExternalCode()},
		{"Local library", m.GetLocalLibraryCode()}, {"Created", when(m.GetCreateTime())}, {"Updated", when(m.GetUpdateTime())}, {"Etag", m.GetEtag()}}
}

func mappingsList(e *env, pos []string) error {
	if err := wantArgs(pos); err != nil {
		return err
	}
	system, err := e.systemFilter()
	if err != nil {
		return err
	}
	resp := &mappingv1.ListLibraryMappingsResponse{}
	req := &mappingv1.ListLibraryMappingsRequest{System: system, LocalLibraryCode: e.o.localLibrary}
	if err := e.list(mappingv1.MappingService_ListLibraryMappings_FullMethodName, req, resp); err != nil {
		return err
	}
	return e.out.print(resp, func() view {
		t := table{header: []string{"NAME", "SYSTEM", "EXTERNAL CODE", "LOCAL LIBRARY", "UPDATED"}}
		for _, m := range resp.GetLibraryMappings() {
			t.rows = append(t.rows, []string{lastSegment(m.GetName()), enumName(m.GetSystem()), m.GetExternalCode(),
				m.GetLocalLibraryCode(), when(m.GetUpdateTime())})
		}
		return t
	})
}

func mappingsGet(e *env, pos []string) error {
	if err := wantArgs(pos, "ID"); err != nil {
		return err
	}
	m := &mappingv1.LibraryMapping{}
	if err := e.call(mappingv1.MappingService_GetLibraryMapping_FullMethodName, &mappingv1.GetLibraryMappingRequest{Name: resourceName("libraryMappings", pos[0])}, m); err != nil {
		return err
	}
	return e.out.print(m, func() view { return mappingDetail(m) })
}

func mappingsCreate(e *env, pos []string) error {
	if err := wantArgs(pos); err != nil {
		return err
	}
	lm := &mappingv1.LibraryMapping{}
	if _, err := e.readFile(lm); err != nil {
		return err
	}
	if err := e.mappingFields(lm, &flagMask{e: e}); err != nil {
		return err
	}
	out := &mappingv1.LibraryMapping{}
	if err := e.call(mappingv1.MappingService_CreateLibraryMapping_FullMethodName, &mappingv1.CreateLibraryMappingRequest{LibraryMapping: lm, RequestId: e.o.requestID}, out); err != nil {
		return err
	}
	return e.out.print(out, func() view { return mappingDetail(out) })
}

func mappingsUpdate(e *env, pos []string) error {
	if err := wantArgs(pos, "ID"); err != nil {
		return err
	}
	in := &mappingv1.LibraryMapping{}
	fields, err := e.readFile(in)
	if err != nil {
		return err
	}
	cur := &mappingv1.LibraryMapping{}
	if err := e.call(mappingv1.MappingService_GetLibraryMapping_FullMethodName, &mappingv1.GetLibraryMappingRequest{Name: resourceName("libraryMappings", pos[0])}, cur); err != nil {
		return err
	}
	m := &flagMask{e: e, mask: replaceFields(cur, in, fields)}
	if err := e.mappingFields(cur, m); err != nil {
		return err
	}
	if len(m.mask) == 0 {
		return usagef("nothing to change: give --local-library or -f FILE")
	}
	cur.Etag = cmp.Or(e.o.etag, cur.Etag)
	out := &mappingv1.LibraryMapping{}
	if err := e.call(mappingv1.MappingService_UpdateLibraryMapping_FullMethodName, &mappingv1.UpdateLibraryMappingRequest{LibraryMapping: cur, UpdateMask: &fieldmaskpb.FieldMask{Paths: m.mask}}, out); err != nil {
		return err
	}
	return e.out.print(out, func() view { return mappingDetail(out) })
}

func mappingsResolve(e *env, pos []string) error {
	if len(pos) == 0 {
		return usagef("want CODE..., got no codes")
	}
	if e.o.system == "" {
		return usagef("--system is required: libris or netpunkt")
	}
	system, err := e.systemFilter()
	if err != nil {
		return err
	}
	resp := &mappingv1.ResolveLibraryCodesResponse{}
	if err := e.call(mappingv1.MappingService_ResolveLibraryCodes_FullMethodName, &mappingv1.ResolveLibraryCodesRequest{System: system, ExternalCodes: pos}, resp); err != nil {
		return err
	}
	return e.out.print(resp, func() view {
		t := table{header: []string{"EXTERNAL CODE", "FOUND", "LOCAL LIBRARY"}}
		for _, r := range resp.GetResolutions() {
			t.rows = append(t.rows, []string{r.GetExternalCode(), yesNo(r.GetFound()), r.GetLocalLibraryCode()})
		}
		return t
	})
}

// Partners.

func bindPartner(create bool) func(*pflag.FlagSet, *opts) {
	return func(s *pflag.FlagSet, o *opts) {
		p := &o.partnerF
		bindFile(s, o, "partner")
		s.StringVar(&p.displayName, "display-name", "", "display name")
		s.StringVar(&p.system, "system", "", "the partner's system: libris or netpunkt")
		s.StringVar(&p.status, "status", "", "active or inactive")
		s.StringVar(&p.person, "contact-person", "", "contact person")
		s.StringVar(&p.email, "contact-email", "", "contact e-mail address")
		s.StringVar(&p.phone, "contact-phone", "", "contact phone number")
		s.StringVar(&p.address, "contact-address", "", "postal address")
		bindChange(s, o, create)
	}
}

func (e *env) partnerFields(p *mappingv1.Partner, m *flagMask) error {
	f := e.o.partnerF
	contact := func() *mappingv1.Contact {
		if p.Contact == nil {
			p.Contact = &mappingv1.Contact{}
		}
		return p.Contact
	}
	for _, s := range []struct {
		flag, field string
		apply       func() error
	}{
		{"display-name", "display_name", func() error { p.DisplayName = f.displayName; return nil }},
		{"system", "system", func() (err error) { p.System, err = parseEnum[typev1.ExternalSystem](f.system, "--system"); return err }},
		{"status", "status", func() (err error) {
			p.Status, err = parseEnum[mappingv1.PartnerStatus](f.status, "--status")
			return err
		}},
		{"contact-person", "contact.person", func() error { contact().Person = f.person; return nil }},
		{"contact-email", "contact.email", func() error { contact().Email = f.email; return nil }},
		{"contact-phone", "contact.phone", func() error { contact().Phone = f.phone; return nil }},
		{"contact-address", "contact.address", func() error { contact().Address = f.address; return nil }},
	} {
		if err := m.set(s.flag, s.field, s.apply); err != nil {
			return err
		}
	}
	return nil
}

func partnerDetail(p *mappingv1.Partner) view {
	c := p.GetContact()
	contact := strings.Join(nonEmpty(c.GetPerson(), c.GetEmail(), c.GetPhone(), c.GetAddress()), ", ")
	return detail{{"Name", p.GetName()}, {"Display name", p.GetDisplayName()}, {"Status", enumName(p.GetStatus())},
		{"System", enumName(p.GetSystem())}, {"Contact", contact}, {"Created", when(p.GetCreateTime())},
		{"Updated", when(p.GetUpdateTime())}, {"Etag", p.GetEtag()}}
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func partnersList(e *env, pos []string) error {
	if err := wantArgs(pos); err != nil {
		return err
	}
	system, err := e.systemFilter()
	if err != nil {
		return err
	}
	status, err := optionalEnum[mappingv1.PartnerStatus](e.o.status, "--status")
	if err != nil {
		return err
	}
	resp := &mappingv1.ListPartnersResponse{}
	if err := e.list(mappingv1.MappingService_ListPartners_FullMethodName, &mappingv1.ListPartnersRequest{System: system, Status: status}, resp); err != nil {
		return err
	}
	return e.out.print(resp, func() view {
		t := table{header: []string{"CODE", "DISPLAY NAME", "STATUS", "SYSTEM", "EMAIL", "UPDATED"}}
		for _, p := range resp.GetPartners() {
			t.rows = append(t.rows, []string{p.GetCode(), p.GetDisplayName(), enumName(p.GetStatus()), enumName(p.GetSystem()),
				p.GetContact().GetEmail(), when(p.GetUpdateTime())})
		}
		return t
	})
}

func partnersGet(e *env, pos []string) error {
	if err := wantArgs(pos, "CODE"); err != nil {
		return err
	}
	p := &mappingv1.Partner{}
	if err := e.call(mappingv1.MappingService_GetPartner_FullMethodName, &mappingv1.GetPartnerRequest{Name: resourceName("partners", pos[0])}, p); err != nil {
		return err
	}
	return e.out.print(p, func() view { return partnerDetail(p) })
}

func partnersCreate(e *env, pos []string) error {
	if err := wantArgs(pos, "CODE"); err != nil {
		return err
	}
	p := &mappingv1.Partner{}
	if _, err := e.readFile(p); err != nil {
		return err
	}
	p.Code = pos[0]
	if err := e.partnerFields(p, &flagMask{e: e}); err != nil {
		return err
	}
	out := &mappingv1.Partner{}
	if err := e.call(mappingv1.MappingService_CreatePartner_FullMethodName, &mappingv1.CreatePartnerRequest{Partner: p, RequestId: e.o.requestID}, out); err != nil {
		return err
	}
	return e.out.print(out, func() view { return partnerDetail(out) })
}

func partnersUpdate(e *env, pos []string) error {
	if err := wantArgs(pos, "CODE"); err != nil {
		return err
	}
	in := &mappingv1.Partner{}
	fields, err := e.readFile(in)
	if err != nil {
		return err
	}
	cur := &mappingv1.Partner{}
	if err := e.call(mappingv1.MappingService_GetPartner_FullMethodName, &mappingv1.GetPartnerRequest{Name: resourceName("partners", pos[0])}, cur); err != nil {
		return err
	}
	m := &flagMask{e: e, mask: replaceFields(cur, in, fields)}
	if err := e.partnerFields(cur, m); err != nil {
		return err
	}
	if len(m.mask) == 0 {
		return usagef("nothing to change: give the fields to change as flags or in -f FILE")
	}
	cur.Etag = cmp.Or(e.o.etag, cur.Etag)
	out := &mappingv1.Partner{}
	if err := e.call(mappingv1.MappingService_UpdatePartner_FullMethodName, &mappingv1.UpdatePartnerRequest{Partner: cur, UpdateMask: &fieldmaskpb.FieldMask{Paths: m.mask}}, out); err != nil {
		return err
	}
	return e.out.print(out, func() view { return partnerDetail(out) })
}

func partnersResolve(e *env, pos []string) error {
	if len(pos) == 0 {
		return usagef("want CODE..., got no codes")
	}
	resp := &mappingv1.ResolvePartnerCodesResponse{}
	if err := e.call(mappingv1.MappingService_ResolvePartnerCodes_FullMethodName, &mappingv1.ResolvePartnerCodesRequest{Codes: pos}, resp); err != nil {
		return err
	}
	return e.out.print(resp, func() view {
		t := table{header: []string{"CODE", "FOUND", "PARTNER", "STATUS"}}
		for _, r := range resp.GetResolutions() {
			t.rows = append(t.rows, []string{r.GetCode(), yesNo(r.GetFound()), r.GetPartner().GetName(), enumName(r.GetPartner().GetStatus())})
		}
		return t
	})
}
