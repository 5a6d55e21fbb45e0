package ctl

import (
	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
)

// systemFilter parses --system when given.
func (e *env) systemFilter() (typev1.ExternalSystem, error) {
	if e.o.system == "" {
		return typev1.ExternalSystem_EXTERNAL_SYSTEM_UNSPECIFIED, nil
	}
	return parseEnum[typev1.ExternalSystem](e.o.system, "--system")
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

func partnersList(e *env, pos []string) error {
	if err := wantArgs(pos); err != nil {
		return err
	}
	system, err := e.systemFilter()
	if err != nil {
		return err
	}
	resp := &mappingv1.ListPartnersResponse{}
	if err := e.list(mappingv1.MappingService_ListPartners_FullMethodName, &mappingv1.ListPartnersRequest{System: system}, resp); err != nil {
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
