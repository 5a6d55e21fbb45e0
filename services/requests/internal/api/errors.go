package api

import (
	"errors"
	"strconv"

	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/services/requests/internal/lifecycle"
	"github.com/interloan/interloan/services/requests/internal/store"
)

// ErrorInfo reasons of this service, beside the platform's INVALID_ARGUMENT and
// ETAG_MISMATCH. They are part of the API: clients (the gateway, the harvester, scripts)
// match on them.
const (
	reasonNotFound        = "BORROWING_REQUEST_NOT_FOUND"
	reasonNotAllowed      = "ACTION_NOT_ALLOWED"
	reasonPartnerRequired = "PARTNER_REQUIRED"
	reasonPositionExpired = "CHANGE_POSITION_EXPIRED"
	reasonPositionAhead   = "CHANGE_POSITION_AHEAD"
	reasonPositionForeign = "CHANGE_POSITION_OTHER_DATABASE"
	reasonShuttingDown    = "SHUTTING_DOWN"
)

// storeError turns the store's and the lifecycle's errors for a call on resource `name`
// into API errors. Anything else (storage failures, an ended context, errors that are
// already API errors such as an etag mismatch) passes through for the rpc edge to map.
func storeError(err error, name string) error {
	var notAllowed *lifecycle.NotAllowedError
	var expired *store.PositionExpiredError
	var ahead *store.PositionAheadError
	var foreign *store.PositionForeignError
	switch {
	case errors.Is(err, store.ErrNotFound):
		return apierr.NotFound(reasonNotFound, name)
	case errors.Is(err, store.ErrBadCursor):
		return apierr.Invalid("page_token", "does not continue a listing with these filters; start again without a page_token")
	case errors.Is(err, store.ErrBatchTooLarge):
		return apierr.Invalid("items", "must hold at most %d items; split the batch", store.MaxBatch)
	case errors.Is(err, store.ErrPartnerRequired):
		return apierr.FailedPrecondition(reasonPartnerRequired, map[string]string{"name": name},
			"%s has no partner: name the partner to send it to in `partner`", name)
	case errors.As(err, &notAllowed):
		return apierr.FailedPrecondition(reasonNotAllowed, map[string]string{
			"name":            name,
			"action":          notAllowed.Action.String(),
			"status":          notAllowed.Status.String(),
			"allowed_actions": notAllowed.AllowedList(),
		}, "%s: %s", name, notAllowed.Error())
	case errors.As(err, &expired):
		return apierr.FailedPrecondition(reasonPositionExpired, map[string]string{
			"start_after": expired.Position, "oldest_change": strconv.FormatUint(expired.Oldest, 10),
		}, "%s", expired.Error())
	case errors.As(err, &ahead):
		return apierr.FailedPrecondition(reasonPositionAhead, map[string]string{
			"start_after": ahead.Position, "latest_change": strconv.FormatUint(ahead.Latest, 10),
		}, "%s", ahead.Error())
	case errors.As(err, &foreign):
		return apierr.FailedPrecondition(reasonPositionForeign, map[string]string{
			"start_after": foreign.Position, "database_id": foreign.Database, "restored": strconv.FormatBool(foreign.RolledBack),
		}, "%s", foreign.Error())
	}
	return err
}
