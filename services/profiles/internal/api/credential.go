package api

import (
	"fmt"

	"github.com/interloan/interloan/external"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	"github.com/interloan/interloan/platform/audit"
	"github.com/interloan/interloan/services/profiles/internal/store"
)

// A profile's credential (api_key) is bound to the origin of the base URL it was entered
// for: sealed with the origin in its associated data, the origin kept beside it. Whoever
// may change a profile (an admin) cannot have the harvester send the stored key to a host
// of their own by changing the base URL: after such a change the key is unusable until
// someone who knows it enters it again. A new path on the same origin changes nothing.

// profileOrigin is the origin of p's base URL, "" when it has none.
func profileOrigin(p *profilesv1.IntegrationProfile) (string, error) {
	base := external.Settings(p).BaseURL
	if base == "" {
		return "", nil
	}
	return external.Origin(base)
}

// sealKey seals p's api_key for the origin of p's base URL.
func (s *Service) sealKey(p *profilesv1.IntegrationProfile) (*store.Sealed, error) {
	origin, err := profileOrigin(p)
	if err != nil {
		// validateProfile accepted the base URL, so this is a bug, not bad input.
		return nil, err
	}
	ct, err := s.keys.Seal([]byte(p.ApiKey), store.CredentialAAD(p.Name, origin))
	if err != nil {
		return nil, err
	}
	return &store.Sealed{Ciphertext: ct, Origin: origin}, nil
}

// keyUsable reports whether rec's credential is stored and sealed to the origin of the
// profile's current base URL, without opening it.
func keyUsable(rec store.Record) bool {
	if rec.Secret == nil || rec.Secret.Unbound {
		return false
	}
	origin, err := profileOrigin(rec.Profile)
	return err == nil && origin == rec.Secret.Origin
}

// openKey opens rec's credential for the origin of the profile's current base URL, and
// returns it with that origin. A credential sealed to another origin is refused before
// anything is decrypted.
func (s *Service) openKey(rec store.Record) (key, origin string, err error) {
	name := rec.Profile.GetName()
	if rec.Secret.Unbound {
		return "", "", errSecretUnbound(name)
	}
	origin, err = profileOrigin(rec.Profile)
	if err != nil || origin != rec.Secret.Origin {
		return "", "", errKeyOriginChanged(name, rec.Secret.Origin, origin)
	}
	plain, err := s.keys.Open(rec.Secret.Ciphertext, store.CredentialAAD(name, origin))
	if err != nil {
		return "", "", errSecretUnusable(name, err)
	}
	return string(plain), origin, nil
}

// BindUnbound binds each credential stored before credentials were bound to an origin
// (schema version 1): it opens it with the associated data it was sealed with, the
// profile's name, and seals it again for the origin of the profile's current base URL,
// as if it had been entered for that address. The service runs it at start, before
// serving, since only it holds the keys. A credential no configured key opens stays
// unbound, hence unusable, and its profile is named in left, so the operator can supply
// the key (--previous-secret-key-files) and restart, or the key can be entered again.
func (s *Service) BindUnbound(call audit.Call) (bound int, left []string, err error) {
	bound, err = s.store.BindUnbound(call, func(rec store.Record) (*store.Sealed, error) {
		name := rec.Profile.GetName()
		plain, err := s.keys.Open(rec.Secret.Ciphertext, rec.Secret.AAD(name))
		if err != nil {
			left = append(left, name)
			return nil, nil
		}
		origin, err := profileOrigin(rec.Profile)
		if err != nil {
			left = append(left, name)
			return nil, nil
		}
		ct, err := s.keys.Seal(plain, store.CredentialAAD(name, origin))
		if err != nil {
			return nil, fmt.Errorf("seal the credential of %s: %w", name, err)
		}
		return &store.Sealed{Ciphertext: ct, Origin: origin}, nil
	})
	if err != nil {
		return 0, nil, err
	}
	return bound, left, nil
}
