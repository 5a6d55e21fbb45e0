package api

import (
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/platform/apierr"
)

// The profiles service's error reasons, declared once.
const (
	reasonNotFound       = "PROFILE_NOT_FOUND"
	reasonAlreadyExists  = "PROFILE_ALREADY_EXISTS"
	reasonAPIKeyMissing  = "API_KEY_MISSING"
	reasonSecretUnusable = "SECRET_UNDECRYPTABLE"
)

func errNotFound(name string) error { return apierr.NotFound(reasonNotFound, name) }

func errAlreadyExists(name string) error { return apierr.AlreadyExists(reasonAlreadyExists, name) }

func errAPIKeyMissing(name string) error {
	return apierr.FailedPrecondition(reasonAPIKeyMissing, map[string]string{"name": name},
		"%s has no API key; set api_key with UpdateIntegrationProfile", name)
}

// errSecretUnusable reports a credential this server cannot decrypt: an operator problem
// (wrong or rotated-away encryption key), described by key id, never by content.
func errSecretUnusable(name string, cause error) error {
	return apierr.FailedPrecondition(reasonSecretUnusable, map[string]string{"name": name},
		"the API key of %s cannot be decrypted (%v); check the encryption key configuration or set the key again", name, cause)
}

// errRequestIDReused refuses an idempotency key already spent on another profile: the
// caller would otherwise get back a profile it did not ask for.
func errRequestIDReused(created string) error {
	return apierr.Invalid("request_id", "was already used to create %s; use a new request_id for a new profile", created)
}

// errReceiptPasswordSystem refuses a receipt password on a profile of a system that pushes
// no receipts (only Netpunkt does): the secret would be stored for nothing.
func errReceiptPasswordSystem(system typev1.ExternalSystem) error {
	return apierr.Invalid("integration_profile.receipt_password", "is only for profiles of a system that pushes receipts, such as Netpunkt (this one is %s)", system)
}
