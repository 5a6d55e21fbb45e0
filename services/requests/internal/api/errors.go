package api

import (
	"errors"

	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/services/requests/internal/store"
)

// ErrorInfo reasons of this service, beside the platform's INVALID_ARGUMENT. They are
// part of the API: clients (the gateway, the harvester, scripts) match on them.
const (
	reasonNotFound = "BORROWING_REQUEST_NOT_FOUND"
)

// storeError turns the store's errors for a call on resource `name` into API errors.
// Anything else (storage failures, an ended context) passes through for the rpc edge to
// map.
func storeError(err error, name string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return apierr.NotFound(reasonNotFound, name)
	case errors.Is(err, store.ErrBadCursor):
		return apierr.Invalid("page_token", "does not continue a listing with these filters; start again without a page_token")
	case errors.Is(err, store.ErrBatchTooLarge):
		return apierr.Invalid("items", "must hold at most %d items; split the batch", store.MaxBatch)
	}
	return err
}
