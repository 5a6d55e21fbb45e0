package api

import (
	"errors"
	"strconv"

	mappingv1 "github.com/interloan/interloan/gen/interloan/mapping/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/services/mapping/internal/store"
)

// ErrorInfo reasons of this service, beside the platform's INVALID_ARGUMENT and
// ETAG_MISMATCH. They are part of the API: clients (the harvester, scripts) match on them.
const (
	reasonLibraryNotFound      = "LIBRARY_NOT_FOUND"
	reasonMappingNotFound      = "LIBRARY_MAPPING_NOT_FOUND"
	reasonPartnerNotFound      = "PARTNER_NOT_FOUND"
	reasonLibraryAlreadyExists = "LIBRARY_ALREADY_EXISTS"
	reasonMappingAlreadyExists = "LIBRARY_MAPPING_ALREADY_EXISTS"
	reasonPartnerAlreadyExists = "PARTNER_ALREADY_EXISTS"
	reasonLibraryInUse         = "LIBRARY_IN_USE"
	reasonLocalLibraryNotFound = "LOCAL_LIBRARY_NOT_FOUND"
)

// storeError turns the store's errors for a call on resource `name` (attempted: the
// resource being written, if any) into API errors. Anything else, such as apierr errors
// from update callbacks or storage failures, passes through for the rpc edge to map.
func (k *kind[T, P]) storeError(err error, name string, attempted P) error {
	var (
		conflict *store.ConflictError
		inUse    *store.InUseError
		missing  *store.MissingLibraryError
		reused   *store.RequestReusedError
	)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return apierr.NotFound(k.notFound, name)
	case errors.As(err, &conflict):
		return k.conflict(attempted, conflict.Existing)
	case errors.As(err, &inUse):
		return libraryInUse(name, inUse.Mappings)
	case errors.As(err, &missing):
		return localLibraryNotFound(missing.Library)
	case errors.As(err, &reused):
		return requestIDReused(reused.Created)
	}
	return err
}

func libraryExists(_ *mappingv1.Library, existing string) error {
	return apierr.AlreadyExists(reasonLibraryAlreadyExists, existing)
}

func mappingExists(m *mappingv1.LibraryMapping, existing string) error {
	return apierr.New(apierr.KindAlreadyExists, reasonMappingAlreadyExists, map[string]string{"name": existing},
		"%s code %q is already mapped by %s", m.GetSystem(), m.GetExternalCode(), existing)
}

// partnerExists names the partner holding the code, which may differ from the new one in
// case only: that is the surprising case the message explains.
func partnerExists(_ *mappingv1.Partner, existing string) error {
	return apierr.New(apierr.KindAlreadyExists, reasonPartnerAlreadyExists, map[string]string{"name": existing},
		"%s already exists (partner codes are unique ignoring case)", existing)
}

func libraryInUse(name string, mappings int) error {
	return apierr.FailedPrecondition(reasonLibraryInUse,
		map[string]string{"name": name, "library_mappings": strconv.Itoa(mappings)},
		"%s is the local library of %d library mapping(s); delete them or point them at another library first",
		name, mappings)
}

// localLibraryNotFound refuses a mapping to a library that does not exist. The request is
// well-formed, and it would succeed once the library is created, so this is
// FAILED_PRECONDITION (a state problem) rather than INVALID_ARGUMENT or NOT_FOUND (which
// would suggest the mapping itself is missing).
func localLibraryNotFound(name string) error {
	return apierr.FailedPrecondition(reasonLocalLibraryNotFound, map[string]string{"local_library": name},
		"local library %s does not exist; create it first", name)
}

// requestIDReused refuses an idempotency key already spent on another resource: the
// caller would otherwise get back a resource it did not ask for.
func requestIDReused(created string) error {
	return apierr.Invalid("request_id", "was already used to create %s; use a new request_id for another resource", created)
}
