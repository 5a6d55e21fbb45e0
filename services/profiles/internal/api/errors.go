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
	// The credential was entered for another origin than the base URL's.
	reasonKeyOriginChanged = "API_KEY_ORIGIN_CHANGED"
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

// errKeyOriginChanged refuses a credential entered for another origin than that of the
// profile's base URL now (sealed "": entered while the profile had no base URL). Origins
// are not secret, so the message names both: staff see which address the key belongs to.
func errKeyOriginChanged(name, sealed, current string) error {
	was := "was entered for " + sealed
	if sealed == "" {
		was = "was entered while the profile had no base URL"
	}
	now := "the base URL now has the origin " + current
	if current == "" {
		now = "the profile now has no usable base URL"
	}
	return apierr.FailedPrecondition(reasonKeyOriginChanged, map[string]string{"name": name, "origin": sealed, "current_origin": current},
		"the API key of %s %s, but %s; a key is only sent to the address it was entered for, so enter it again (set api_key) for the new address", name, was, now)
}

// errSecretUnbound reports a credential stored before credentials were bound to an
// origin that the service could not bind at start, because no configured key opens it.
func errSecretUnbound(name string) error {
	return apierr.FailedPrecondition(reasonSecretUnusable, map[string]string{"name": name},
		"the API key of %s was stored before keys were bound to an address and no configured encryption key opens it; give the key it was sealed with in --previous-secret-key-files and restart profiles, or enter the API key again", name)
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
