package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// signingAlgs are the only algorithms a token may be signed with: asymmetric ones.
// `none` and the HMAC family (whose "key" would be the provider's public key, known to
// everyone) are refused when the token is parsed.
var signingAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.EdDSA,
}

func signingAlgNames() []string {
	out := make([]string, len(signingAlgs))
	for i, a := range signingAlgs {
		out[i] = string(a)
	}
	return out
}

// Bounds of what is read from an issuer.
const (
	// MaxJWTLen bounds a presented JWT; real access tokens are a few KB.
	MaxJWTLen = 16 << 10
	// maxIssuerResponse bounds a discovery document or key set read from the issuer.
	maxIssuerResponse = 1 << 20
	// maxKeys bounds the keys kept from one key set.
	maxKeys = 100
)

// errNeedsFetch says a token cannot be decided from the keys at hand (offline mode).
var errNeedsFetch = errors.New("oidc: deciding needs the issuer's keys")

type offlineKey struct{}

// offlineContext marks ctx as one that must not wait on the network: TapHandle's,
// which runs on a connection's reader goroutine. Verifying under it fails with
// errNeedsFetch, recorded in *needed, whenever keys would have to be fetched.
func offlineContext(ctx context.Context, needed *bool) context.Context {
	return context.WithValue(ctx, offlineKey{}, needed)
}

// keySet is an issuer's JSON Web Key Set, fetched from its jwks_uri and cached. A token
// signed with a key id the cache lacks (the issuer rotated its keys) triggers a refetch,
// at most one every minRefresh, so a stream of tokens with made-up key ids cannot turn
// into a stream of requests to the issuer; the cache is also refetched when older than
// maxAge, so a key the issuer withdrew stops being trusted. It implements go-oidc's
// KeySet, so go-oidc does the claim checks around it.
type keySet struct {
	url        string
	client     *http.Client
	now        func() time.Time
	minRefresh time.Duration
	maxAge     time.Duration

	mu       sync.Mutex
	keys     []jose.JSONWebKey
	fetched  time.Time     // the last successful fetch
	tried    time.Time     // the last attempt, successful or not
	inflight chan struct{} // closed when the running fetch ends
}

// VerifySignature returns the payload of raw if one of the issuer's keys signed it with
// an allowed algorithm.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSigned(raw, signingAlgs)
	if err != nil {
		return nil, fmt.Errorf("malformed or disallowed signature: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("want exactly one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	keys, fresh := k.cached()
	payload, known := verifyWith(jws, keys, kid)
	if payload != nil && fresh {
		return payload, nil
	}
	if payload == nil && known {
		// A key with this id exists and did not verify it: a bad signature, which new
		// keys would not change.
		return nil, errors.New("bad signature")
	}
	if needed, offline := ctx.Value(offlineKey{}).(*bool); offline {
		*needed = true
		return nil, errNeedsFetch
	}
	keys, err = k.refresh(ctx)
	if err != nil && keys == nil {
		return nil, err
	}
	if payload, _ = verifyWith(jws, keys, kid); payload != nil {
		return payload, nil
	}
	if err != nil {
		return nil, err
	}
	return nil, errors.New("no key of the issuer verifies the signature")
}

// verifyWith verifies jws with the key of id kid (any key if kid is empty); known says
// whether a key of that id was there.
func verifyWith(jws *jose.JSONWebSignature, keys []jose.JSONWebKey, kid string) (payload []byte, known bool) {
	for i := range keys {
		if kid != "" && keys[i].KeyID != kid {
			continue
		}
		known = kid != ""
		if p, err := jws.Verify(&keys[i]); err == nil {
			return p, known
		}
	}
	return nil, known
}

// cached returns the keys held and whether they are younger than maxAge.
func (k *keySet) cached() ([]jose.JSONWebKey, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys, !k.fetched.IsZero() && k.now().Sub(k.fetched) < k.maxAge
}

// refresh fetches the key set unless one was tried less than minRefresh ago, and
// returns the keys held afterwards (the old ones if the fetch failed or was not due),
// with the fetch's error. Concurrent callers share one fetch.
func (k *keySet) refresh(ctx context.Context) ([]jose.JSONWebKey, error) {
	k.mu.Lock()
	if k.inflight == nil {
		if !k.tried.IsZero() && k.now().Sub(k.tried) < k.minRefresh {
			keys := k.keys
			k.mu.Unlock()
			return keys, errors.New("issuer's keys were fetched moments ago; not fetching again yet")
		}
		k.tried = k.now()
		done := make(chan struct{})
		k.inflight = done
		go func() {
			// Not bound to one caller's context: others may be waiting on it.
			keys, err := k.fetch()
			k.mu.Lock()
			if err == nil {
				k.keys, k.fetched = keys, k.now()
			}
			k.inflight = nil
			k.mu.Unlock()
			close(done)
		}()
	}
	wait := k.inflight
	k.mu.Unlock()
	select {
	case <-wait:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.tried.After(k.fetched) {
		return k.keys, errors.New("fetching the issuer's keys failed")
	}
	return k.keys, nil
}

// fetch reads the key set through the Provider's client, which bounds it in time and
// size (boundedTransport), keeping the signing keys of allowed algorithms.
func (k *keySet) fetch() ([]jose.JSONWebKey, error) {
	req, err := http.NewRequest(http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("oidc: fetch keys: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("oidc: fetch keys: %s", resp.Status)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return nil, fmt.Errorf("oidc: decode keys: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var key jose.JSONWebKey
		// A key of a type go-jose does not know is skipped, not fatal: issuers publish
		// encryption keys and newer key types beside their signing keys.
		if key.UnmarshalJSON(raw) != nil || !key.IsPublic() || (key.Use != "" && key.Use != "sig") {
			continue
		}
		keys = append(keys, key)
		if len(keys) == maxKeys {
			break
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("oidc: the issuer's key set holds no signing key")
	}
	return keys, nil
}
