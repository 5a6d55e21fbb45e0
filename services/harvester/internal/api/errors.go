package api

import (
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/services/harvester/internal/run"
	"github.com/interloan/interloan/services/harvester/internal/store"
)

// ErrorInfo reasons of this service, beside the platform's INVALID_ARGUMENT. They are
// part of the API: clients (the gateway, scripts, the scheduler's last error) match on
// them.
const (
	reasonProfileNotFound     = "PROFILE_NOT_FOUND"
	reasonRunInProgress       = "RUN_IN_PROGRESS"
	reasonRunNotActive        = "RUN_NOT_ACTIVE"
	reasonRunNotFound         = "RUN_NOT_FOUND"
	reasonParkedItemNotFound  = "PARKED_ITEM_NOT_FOUND"
	reasonUpstreamUnavailable = "UPSTREAM_UNAVAILABLE"
)

// apiError turns the runner's errors into API errors. Anything else (argument errors,
// which already are API errors, storage failures, an ended context) passes through for
// the rpc edge to map.
func apiError(err error) error {
	var (
		inProgress *run.InProgressError
		notActive  *run.NotActiveError
		reused     *run.RequestReusedError
		lookup     *run.ProfileError
	)
	switch {
	case errors.As(err, &inProgress):
		return apierr.FailedPrecondition(reasonRunInProgress, map[string]string{"run": inProgress.Run}, "%s", inProgress.Error())
	case errors.As(err, &notActive):
		return apierr.FailedPrecondition(reasonRunNotActive, map[string]string{"state": notActive.State.String()}, "%s", notActive.Error())
	case errors.As(err, &reused):
		return apierr.Invalid("request_id", "%s", reused.Error())
	case errors.As(err, &lookup):
		return profileError(lookup)
	}
	return err
}

// runError is apiError for a call on run `name`, which the store may not have.
func runError(err error, name string) error {
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound(reasonRunNotFound, name)
	}
	return apiError(err)
}

// parkedError is apiError for a call on parked item `name`, which may not be parked.
func parkedError(err error, name string) error {
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound(reasonParkedItemNotFound, name)
	}
	return apiError(err)
}

// profileError is a failed profile lookup for StartRun's caller: a missing or malformed
// profile name is the caller's mistake, anything else is not.
func profileError(e *run.ProfileError) error {
	msg := status.Convert(e.Err).Message()
	switch status.Code(e.Err) {
	case codes.NotFound:
		return apierr.NotFound(reasonProfileNotFound, e.Profile)
	case codes.InvalidArgument:
		return apierr.Invalid("profile", "%s", msg)
	}
	return apierr.Unavailable(reasonUpstreamUnavailable, "the profiles service did not answer: %s", msg)
}
