package web

import (
	"cmp"
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
)

// The mapping pages: local libraries, the mapping of external library codes to them,
// and partners (lenders), each a list, a create form and an edit form with delete; and
// a tester that shows what a code resolves to, as an import would resolve it.
func (h *Handler) mappingRoutes() {
	h.mux.Handle("GET /libraries", h.authed(h.listLibraries))
	h.mux.Handle("GET /libraries/new", h.authed(h.newLibrary))
	h.mux.Handle("POST /libraries/new", h.authed(h.createLibrary))
	h.mux.Handle("GET /libraries/{code}", h.authed(h.showLibrary))
	h.mux.Handle("POST /libraries/{code}", h.authed(h.updateLibrary))
	h.mux.Handle("POST /libraries/{code}/delete", h.authed(h.deleteLibrary))

	h.mux.Handle("GET /mappings", h.authed(h.listMappings))
	h.mux.Handle("GET /mappings/new", h.authed(h.newMapping))
	h.mux.Handle("POST /mappings/new", h.authed(h.createMapping))
	h.mux.Handle("GET /mappings/{id}", h.authed(h.showMapping))
	h.mux.Handle("POST /mappings/{id}", h.authed(h.updateMapping))
	h.mux.Handle("POST /mappings/{id}/delete", h.authed(h.deleteMapping))

	h.mux.Handle("GET /partners", h.authed(h.listPartners))
	h.mux.Handle("GET /partners/new", h.authed(h.newPartner))
	h.mux.Handle("POST /partners/new", h.authed(h.createPartner))
	h.mux.Handle("GET /partners/{code}", h.authed(h.showPartner))
	h.mux.Handle("POST /partners/{code}", h.authed(h.updatePartner))
	h.mux.Handle("POST /partners/{code}/delete", h.authed(h.deletePartner))
}

const listPageSize = 50

// systemOptions are the systems a mapping or partner form offers.
var systemOptions = []option{{Value: "libris", Key: "profiles.system.libris"}, {Value: "netpunkt", Key: "profiles.system.netpunkt"}}

// --- Libraries -----------------------------------------------------------------------

type librariesData struct {
	Libraries []*mappingv1.Library
	Next      string
	Find      string // the code looked for and not found
}

// listLibraries lists libraries in code order. ListLibraries has no filter, so the page
// offers to open a library by its exact code instead of a search.
func (h *Handler) listLibraries(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.call(r)
	defer cancel()
	q := r.URL.Query()
	d := librariesData{}
	if code := strings.TrimSpace(q.Get("code")); code != "" {
		_, err := h.mapping.GetLibrary(ctx, &mappingv1.GetLibraryRequest{Name: librariesCollection + code})
		switch status.Code(err) {
		case codes.OK:
			http.Redirect(w, r, "/libraries/"+code, http.StatusSeeOther)
			return
		case codes.NotFound, codes.InvalidArgument:
			d.Find = code
		default:
			h.apiFail(w, r, err)
			return
		}
	}
	resp, err := h.mapping.ListLibraries(ctx, &mappingv1.ListLibrariesRequest{PageSize: listPageSize, PageToken: q.Get("page_token")})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	d.Libraries = resp.GetLibraries()
	if t := resp.GetNextPageToken(); t != "" {
		d.Next = string(link("/libraries", "page_token", t))
	}
	h.render(w, r, http.StatusOK, "libraries", d)
}

type libraryData struct {
	Creating bool
	L        *mappingv1.Library // as stored (edit) or as typed
	P        *problem
	E        map[string]fieldErr
	Other    []string
}

var libraryInputs = map[string][]string{
	"code": {"library.code"}, "display_name": {"library.display_name"}, "is_resource_sharing_library": {"library.is_resource_sharing_library"},
}

func readLibrary(r *http.Request) *mappingv1.Library {
	return &mappingv1.Library{
		Code: strings.TrimSpace(r.PostFormValue("code")), DisplayName: strings.TrimSpace(r.PostFormValue("display_name")),
		IsResourceSharingLibrary: r.PostFormValue("is_resource_sharing_library") == "on", Etag: r.PostFormValue("etag"),
	}
}

func (h *Handler) libraryForm(w http.ResponseWriter, r *http.Request, code int, d libraryData) {
	d.E, d.Other = fieldErrors(d.P, libraryInputs)
	h.render(w, r, code, "library", d)
}

func (h *Handler) newLibrary(w http.ResponseWriter, r *http.Request) {
	if !h.can(r, "MappingService/CreateLibrary") {
		h.fail(w, r, http.StatusForbidden, "error.forbidden")
		return
	}
	h.libraryForm(w, r, http.StatusOK, libraryData{Creating: true, L: &mappingv1.Library{
		Code: r.URL.Query().Get("code"), IsResourceSharingLibrary: true}})
}

func (h *Handler) createLibrary(w http.ResponseWriter, r *http.Request) {
	l := readLibrary(r)
	ctx, cancel := h.call(r)
	defer cancel()
	created, err := h.mapping.CreateLibrary(ctx, &mappingv1.CreateLibraryRequest{Library: l, RequestId: r.PostFormValue("request_id")})
	if err != nil {
		p := problemOf(err)
		h.libraryForm(w, r, p.HTTP, libraryData{Creating: true, L: l, P: p})
		return
	}
	redirect(w, r, "/"+created.GetName(), "flash.library_created")
}

func (h *Handler) showLibrary(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.call(r)
	defer cancel()
	l, err := h.mapping.GetLibrary(ctx, &mappingv1.GetLibraryRequest{Name: librariesCollection + r.PathValue("code")})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	h.libraryForm(w, r, http.StatusOK, libraryData{L: l})
}

// updateLibrary sends the form's fields with the etag the form was loaded with.
func (h *Handler) updateLibrary(w http.ResponseWriter, r *http.Request) {
	l := readLibrary(r)
	l.Code, l.Name = r.PathValue("code"), librariesCollection+r.PathValue("code")
	ctx, cancel := h.call(r)
	defer cancel()
	_, err := h.mapping.UpdateLibrary(ctx, &mappingv1.UpdateLibraryRequest{Library: l,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name", "is_resource_sharing_library"}}})
	if err != nil {
		p := problemOf(err)
		h.libraryForm(w, r, p.HTTP, libraryData{L: l, P: p})
		return
	}
	redirect(w, r, "/"+l.Name, "flash.library_saved")
}

func (h *Handler) deleteLibrary(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.call(r)
	defer cancel()
	_, err := h.mapping.DeleteLibrary(ctx, &mappingv1.DeleteLibraryRequest{Name: librariesCollection + r.PathValue("code"), Etag: r.PostFormValue("etag")})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	redirect(w, r, "/libraries", "flash.library_deleted")
}

// --- Library-code mappings -------------------------------------------------------------

// resolution is the tester's answer for one code.
type resolution struct {
	Kind, Code string // as asked
	Asked      bool
	Found      bool
	Library    string // the local library a library code maps to
	MappingID  string // its mapping's id
	Partner    *mappingv1.Partner
}

type mappingRow struct {
	M      *mappingv1.LibraryMapping
	ID     string
	System string // catalog key
}

type mappingsData struct {
	Mappings []mappingRow
	Kinds    []option
	Next     string
	System   string // filter
	Library  string // filter
	Systems  []option
	Resolve  resolution
	P        *problem // the tester's refusal
}

// resolveKinds are what the tester resolves: a library code of a system, or a lender's
// code (a partner).
var resolveKinds = []option{
	{Value: "libris", Key: "mappings.resolve.kind_libris"},
	{Value: "netpunkt", Key: "mappings.resolve.kind_netpunkt"},
	{Value: "partner", Key: "mappings.resolve.kind_partner"},
}

func (h *Handler) listMappings(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.call(r)
	defer cancel()
	q := r.URL.Query()
	d := mappingsData{System: q.Get("system"), Library: strings.TrimSpace(q.Get("local_library_code")), Systems: systemOptions, Kinds: resolveKinds}
	if code := q.Get("resolve_code"); code != "" || q.Get("resolve_kind") != "" {
		d.Resolve = resolution{Kind: q.Get("resolve_kind"), Code: code, Asked: true}
		if err := h.resolve(r, &d.Resolve); err != nil {
			d.P = problemOf(err)
		}
	}
	resp, err := h.mapping.ListLibraryMappings(ctx, &mappingv1.ListLibraryMappingsRequest{PageSize: listPageSize, PageToken: q.Get("page_token"),
		System: systems[d.System], LocalLibraryCode: d.Library})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	for _, m := range resp.GetLibraryMappings() {
		d.Mappings = append(d.Mappings, mappingRow{M: m, ID: strings.TrimPrefix(m.GetName(), mappingsCollection), System: sysKey(m.GetSystem())})
	}
	if t := resp.GetNextPageToken(); t != "" {
		d.Next = string(link("/mappings", "system", d.System, "local_library_code", d.Library, "page_token", t))
	}
	h.render(w, r, http.StatusOK, "mappings", d)
}

// resolve asks mapping what a code resolves to, exactly as an import asks: the service
// trims it and compares as the system's (or partners') rules say.
func (h *Handler) resolve(r *http.Request, res *resolution) error {
	ctx, cancel := h.call(r)
	defer cancel()
	if res.Kind == "partner" {
		resp, err := h.mapping.ResolvePartnerCodes(ctx, &mappingv1.ResolvePartnerCodesRequest{Codes: []string{res.Code}})
		if err != nil {
			return err
		}
		for _, x := range resp.GetResolutions() {
			res.Found, res.Partner = x.GetFound(), x.GetPartner()
		}
		return nil
	}
	resp, err := h.mapping.ResolveLibraryCodes(ctx, &mappingv1.ResolveLibraryCodesRequest{System: systems[res.Kind], ExternalCodes: []string{res.Code}})
	if err != nil {
		return err
	}
	for _, x := range resp.GetResolutions() {
		res.Found, res.Library, res.MappingID = x.GetFound(), x.GetLocalLibraryCode(), strings.TrimPrefix(x.GetLibraryMapping(), mappingsCollection)
	}
	return nil
}

type mappingData struct {
	Creating  bool
	ID        string // the mapping's id (edit)
	M         *mappingv1.LibraryMapping
	System    string // the form's word for M's system
	Libraries []*mappingv1.Library
	Systems   []option
	P         *problem
	E         map[string]fieldErr
	Other     []string
}

var mappingInputs = map[string][]string{
	"system": {"library_mapping.system"}, "external_code": {"library_mapping.external_code"},
	"local_library_code": {"library_mapping.local_library_code"},
}

func (h *Handler) mappingForm(w http.ResponseWriter, r *http.Request, code int, d mappingData) {
	ctx, cancel := h.call(r)
	defer cancel()
	resp, err := h.mapping.ListLibraries(ctx, &mappingv1.ListLibrariesRequest{PageSize: 1000})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	d.Libraries, d.Systems, d.System = resp.GetLibraries(), systemOptions, systemWord(d.M.GetSystem())
	d.ID = strings.TrimPrefix(d.M.GetName(), mappingsCollection)
	if l := d.M.GetLocalLibraryCode(); l != "" && !containsLibrary(d.Libraries, l) {
		d.Libraries = append(d.Libraries, &mappingv1.Library{Code: l, DisplayName: l})
	}
	d.E, d.Other = fieldErrors(d.P, mappingInputs)
	h.render(w, r, code, "mapping", d)
}

// newMapping offers the form, prefilled from the query (a profile's "fix it" link).
func (h *Handler) newMapping(w http.ResponseWriter, r *http.Request) {
	if !h.can(r, "MappingService/CreateLibraryMapping") {
		h.fail(w, r, http.StatusForbidden, "error.forbidden")
		return
	}
	q := r.URL.Query()
	h.mappingForm(w, r, http.StatusOK, mappingData{Creating: true, M: &mappingv1.LibraryMapping{
		System: systems[q.Get("system")], ExternalCode: q.Get("external_code"), LocalLibraryCode: q.Get("local_library_code")}})
}

func readMapping(r *http.Request) *mappingv1.LibraryMapping {
	return &mappingv1.LibraryMapping{System: systems[r.PostFormValue("system")], ExternalCode: strings.TrimSpace(r.PostFormValue("external_code")),
		LocalLibraryCode: strings.TrimSpace(r.PostFormValue("local_library_code")), Etag: r.PostFormValue("etag")}
}

func (h *Handler) createMapping(w http.ResponseWriter, r *http.Request) {
	m := readMapping(r)
	ctx, cancel := h.call(r)
	defer cancel()
	created, err := h.mapping.CreateLibraryMapping(ctx, &mappingv1.CreateLibraryMappingRequest{LibraryMapping: m})
	if err != nil {
		p := problemOf(err)
		h.mappingForm(w, r, p.HTTP, mappingData{Creating: true, M: m, P: p})
		return
	}
	redirect(w, r, "/mappings/"+strings.TrimPrefix(created.GetName(), mappingsCollection), "flash.mapping_created")
}

func (h *Handler) showMapping(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.call(r)
	defer cancel()
	m, err := h.mapping.GetLibraryMapping(ctx, &mappingv1.GetLibraryMappingRequest{Name: mappingsCollection + r.PathValue("id")})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	h.mappingForm(w, r, http.StatusOK, mappingData{M: m})
}

// updateMapping points the mapping at another library (its one updatable field).
func (h *Handler) updateMapping(w http.ResponseWriter, r *http.Request) {
	m := readMapping(r)
	m.Name = mappingsCollection + r.PathValue("id")
	ctx, cancel := h.call(r)
	defer cancel()
	_, err := h.mapping.UpdateLibraryMapping(ctx, &mappingv1.UpdateLibraryMappingRequest{LibraryMapping: m,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"local_library_code"}}})
	if err != nil {
		p := problemOf(err)
		h.mappingForm(w, r, p.HTTP, mappingData{M: m, P: p})
		return
	}
	redirect(w, r, "/mappings/"+r.PathValue("id"), "flash.mapping_saved")
}

func (h *Handler) deleteMapping(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.call(r)
	defer cancel()
	_, err := h.mapping.DeleteLibraryMapping(ctx, &mappingv1.DeleteLibraryMappingRequest{Name: mappingsCollection + r.PathValue("id"), Etag: r.PostFormValue("etag")})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	redirect(w, r, "/mappings", "flash.mapping_deleted")
}

// --- Partners ----------------------------------------------------------------------------

type partnerRow struct {
	Pt     *mappingv1.Partner
	System string // catalog keys
	Status string
}

type partnersData struct {
	Partners []partnerRow
	Next     string
	System   string
	Status   string
	Systems  []option
	Statuses []option
	Find     string // the code looked for and not found
}

var partnerStatuses = []option{{Value: "active", Key: "partners.status.active"}, {Value: "inactive", Key: "partners.status.inactive"}}

var statusValues = map[string]mappingv1.PartnerStatus{
	"active": mappingv1.PartnerStatus_PARTNER_STATUS_ACTIVE, "inactive": mappingv1.PartnerStatus_PARTNER_STATUS_INACTIVE,
}

func statusWord(s mappingv1.PartnerStatus) string {
	for w, v := range statusValues {
		if v == s {
			return w
		}
	}
	return ""
}

// listPartners lists partners by the filters ListPartners has (system, status). To open
// one by its code, the code is resolved as an import would (ignoring case and
// surrounding spaces).
func (h *Handler) listPartners(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.call(r)
	defer cancel()
	q := r.URL.Query()
	d := partnersData{System: q.Get("system"), Status: q.Get("status"), Systems: systemOptions, Statuses: partnerStatuses}
	if code := q.Get("code"); strings.TrimSpace(code) != "" {
		res := resolution{Kind: "partner", Code: code}
		if err := h.resolve(r, &res); err != nil {
			h.apiFail(w, r, err)
			return
		}
		if res.Found {
			http.Redirect(w, r, "/"+res.Partner.GetName(), http.StatusSeeOther)
			return
		}
		d.Find = code
	}
	resp, err := h.mapping.ListPartners(ctx, &mappingv1.ListPartnersRequest{PageSize: listPageSize, PageToken: q.Get("page_token"),
		System: systems[d.System], Status: statusValues[d.Status]})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	for _, pt := range resp.GetPartners() {
		d.Partners = append(d.Partners, partnerRow{Pt: pt, System: sysKey(pt.GetSystem()), Status: "partners.status." + cmp.Or(statusWord(pt.GetStatus()), "unknown")})
	}
	if t := resp.GetNextPageToken(); t != "" {
		d.Next = string(link("/partners", "system", d.System, "status", d.Status, "page_token", t))
	}
	h.render(w, r, http.StatusOK, "partners", d)
}

type partnerData struct {
	Creating bool
	Pt       *mappingv1.Partner
	System   string
	Status   string
	Systems  []option
	Statuses []option
	P        *problem
	E        map[string]fieldErr
	Other    []string
}

var partnerInputs = map[string][]string{
	"code": {"partner.code"}, "display_name": {"partner.display_name"}, "status": {"partner.status"}, "system": {"partner.system"},
	"person": {"partner.contact.person"}, "email": {"partner.contact.email"}, "phone": {"partner.contact.phone"}, "address": {"partner.contact.address"},
}

func (h *Handler) partnerForm(w http.ResponseWriter, r *http.Request, code int, d partnerData) {
	d.System, d.Status = systemWord(d.Pt.GetSystem()), statusWord(d.Pt.GetStatus())
	d.Systems, d.Statuses = systemOptions, partnerStatuses
	d.E, d.Other = fieldErrors(d.P, partnerInputs)
	h.render(w, r, code, "partner", d)
}

func readPartner(r *http.Request) *mappingv1.Partner {
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	return &mappingv1.Partner{
		Code: v("code"), DisplayName: v("display_name"), Status: statusValues[v("status")], System: systems[v("system")],
		Contact: &mappingv1.Contact{Person: v("person"), Email: v("email"), Phone: v("phone"), Address: v("address")},
		Etag:    r.PostFormValue("etag"),
	}
}

func (h *Handler) newPartner(w http.ResponseWriter, r *http.Request) {
	if !h.can(r, "MappingService/CreatePartner") {
		h.fail(w, r, http.StatusForbidden, "error.forbidden")
		return
	}
	q := r.URL.Query()
	h.partnerForm(w, r, http.StatusOK, partnerData{Creating: true, Pt: &mappingv1.Partner{
		Code: q.Get("code"), System: systems[q.Get("system")], Status: mappingv1.PartnerStatus_PARTNER_STATUS_ACTIVE}})
}

func (h *Handler) createPartner(w http.ResponseWriter, r *http.Request) {
	pt := readPartner(r)
	ctx, cancel := h.call(r)
	defer cancel()
	created, err := h.mapping.CreatePartner(ctx, &mappingv1.CreatePartnerRequest{Partner: pt})
	if err != nil {
		p := problemOf(err)
		h.partnerForm(w, r, p.HTTP, partnerData{Creating: true, Pt: pt, P: p})
		return
	}
	redirect(w, r, "/"+created.GetName(), "flash.partner_created")
}

func (h *Handler) showPartner(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.call(r)
	defer cancel()
	pt, err := h.mapping.GetPartner(ctx, &mappingv1.GetPartnerRequest{Name: partnersCollection + r.PathValue("code")})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	h.partnerForm(w, r, http.StatusOK, partnerData{Pt: pt})
}

func (h *Handler) updatePartner(w http.ResponseWriter, r *http.Request) {
	pt := readPartner(r)
	pt.Code, pt.Name = r.PathValue("code"), partnersCollection+r.PathValue("code")
	ctx, cancel := h.call(r)
	defer cancel()
	_, err := h.mapping.UpdatePartner(ctx, &mappingv1.UpdatePartnerRequest{Partner: pt,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name", "status", "system", "contact"}}})
	if err != nil {
		p := problemOf(err)
		h.partnerForm(w, r, p.HTTP, partnerData{Pt: pt, P: p})
		return
	}
	redirect(w, r, "/"+pt.Name, "flash.partner_saved")
}

func (h *Handler) deletePartner(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.call(r)
	defer cancel()
	_, err := h.mapping.DeletePartner(ctx, &mappingv1.DeletePartnerRequest{Name: partnersCollection + r.PathValue("code"), Etag: r.PostFormValue("etag")})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	redirect(w, r, "/partners", "flash.partner_deleted")
}
