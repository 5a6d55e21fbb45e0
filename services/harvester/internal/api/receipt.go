package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/interloan/interloan/external/netpunkt"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	"github.com/interloan/interloan/platform/apierr"
	"github.com/interloan/interloan/platform/resource"
	"github.com/interloan/interloan/services/harvester/internal/run"
	"github.com/interloan/interloan/services/harvester/internal/store"
)

// ReceiptPath is where Netpunkt posts OrderReceipt messages for a profile:
// ReceiptPath + "{profile code}".
const ReceiptPath = "/netpunkt/receipts/"

// Receipts is the push endpoint of Netpunkt profiles: DBC's OrderReceipt SOAP service,
// seen from the receiving side. It is not behind a bearer token: DBC authenticates each
// message with authenticationPassword, compared in constant time with the profile's
// receipt password. An accepted message is stored in the profile's inbox before it is
// acknowledged, then a run of the profile is asked for; a refused one stores nothing.
// orderReceiptUuid keys the message in the inbox, so a receipt sent again is answered ok
// and stored once. Passwords are never logged.
//
// Every answer to a POST is a SOAP receiptResponse with HTTP 200, as DBC's client reads
// the receiptStatus: ok (stored, or stored before), incomplete_request (not a receipt),
// fatal_internal_error (authentication failed: resending cannot help) and
// temporary_error_please_resend (anything a later attempt may get past, with Retry-After).
//
// Every authentication failure gets the same answer (an unknown profile, a profile of
// another system or without a receipt password, a wrong password), so the endpoint does
// not tell which profiles exist. Failures are counted per source address and per profile:
// after receiptFreeFailures of either, attempts are answered temporary_error_please_resend
// with Retry-After before the message is read, for a window that doubles with each
// further failure up to receiptMaxLockout; a temporary answer makes DBC resend, so a
// lockout an attacker causes delays a real receipt but does not lose it. The log shows
// only a short quoted prefix of what an unauthenticated caller sent, in at most one line
// a minute per profile and kind of refusal.
type Receipts struct {
	Profiles    profilesv1.ProfileServiceClient
	Credentials profilesv1.ProfileCredentialsServiceClient
	Store       *store.Store
	// Kick asks for a run of the named profile soon (a Kicker's Kick).
	Kick func(profileName string)
	Log  *slog.Logger
	Now  func() time.Time
	// CallTimeout bounds each call to the profiles service (default 10s).
	CallTimeout time.Duration

	guardOnce sync.Once
	sources   *failureLimiter // failures by source address
	profiles  *failureLimiter // failures by profile name, whether the profile exists or not
	logs      *logGate
}

// How receipt authentication failures are limited.
const (
	receiptFreeFailures = 5                // failures of a source or profile before it is locked out
	receiptFirstLockout = time.Second      // doubled by each further failure
	receiptMaxLockout   = 15 * time.Minute // the longest lockout
	receiptForget       = time.Hour        // a source or profile without failures this long starts afresh
	receiptLimiterKeys  = 10000            // sources, and profile names, remembered at most
	receiptLogEvery     = time.Minute      // one line per profile and kind of refusal
	receiptLogKeys      = 256              // kinds of refusal remembered; beyond that they share one line
)

// receiptRefused is the answer to every authentication failure.
const receiptRefused = "authentication failed: authenticationPassword is wrong, or this endpoint accepts no receipts"

func (h *Receipts) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	code, ok := strings.CutPrefix(r.URL.Path, ReceiptPath)
	if !ok || !resource.ValidCode(code) {
		h.answer(w, http.StatusNotFound, netpunkt.ReceiptIncompleteRequest, "no such receipt endpoint; post to "+ReceiptPath+"{profile code}")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.answer(w, http.StatusMethodNotAllowed, netpunkt.ReceiptIncompleteRequest, "post OrderReceipt messages")
		return
	}
	h.guardOnce.Do(h.initGuard)
	name := run.ProfilesCollection + "/" + code
	source := sourceOf(r.RemoteAddr)
	// A locked-out source or profile costs neither the read nor a call to profiles.
	if wait, ok := h.sources.lockedOut(source); ok {
		h.tooMany(w, wait, false, "remote", source)
		return
	}
	if wait, ok := h.profiles.lockedOut(name); ok {
		h.tooMany(w, wait, false, "profile", name)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, netpunkt.MaxReceiptBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		h.answer(w, http.StatusOK, netpunkt.ReceiptIncompleteRequest, "the message is larger than the limit of "+strconv.Itoa(netpunkt.MaxReceiptBytes>>10)+" KiB")
		return
	case err != nil:
		h.answer(w, http.StatusOK, netpunkt.ReceiptTemporaryError, "the message could not be read")
		return
	}
	rc, err := netpunkt.ParseReceipt(body)
	if err != nil {
		h.answer(w, http.StatusOK, netpunkt.ReceiptIncompleteRequest, err.Error())
		return
	}
	// The attempt is reserved only now, around the password check, so that a slow upload
	// holds no reservation; attempts in flight count against the failures left, so
	// guesses sent at once get no more tries than guesses sent in turn.
	wait, busy, ok := h.sources.admit(source)
	if !ok {
		h.tooMany(w, wait, busy, "remote", source)
		return
	}
	if wait, busy, ok = h.profiles.admit(name); !ok {
		h.sources.done(source, attemptUndecided)
		h.tooMany(w, wait, busy, "profile", name)
		return
	}
	// Settled before answering, so the caller's next attempt sees this one's outcome;
	// deferred too, so that no way out leaves the reservation held.
	settled := false
	settle := func(o outcome) {
		if !settled {
			settled = true
			h.settle(source, name, o)
		}
	}
	defer settle(attemptUndecided)
	reason, err := h.authenticate(r.Context(), name, rc.Password)
	switch {
	case err != nil:
		settle(attemptUndecided)
		h.logGated(r.Context(), slog.LevelError, "unavailable", "reading a profile for a Netpunkt receipt", "profile", name, "error", err)
		h.answer(w, http.StatusOK, netpunkt.ReceiptTemporaryError, "the profile could not be read; retry later")
		return
	case reason != "":
		settle(attemptFailed)
		h.logGated(r.Context(), slog.LevelWarn, "refused "+name, "Netpunkt receipt refused", "profile", name, "reason", reason,
			"order", untrusted(rc.OrderID), "remote", r.RemoteAddr)
		h.answer(w, http.StatusOK, netpunkt.ReceiptFatalError, receiptRefused)
		return
	}
	settle(attemptSucceeded)
	_, err = h.Store.PutInbox(code, store.InboxItem{ExternalID: rc.OrderID, Key: rc.UUID, Received: h.now(), Message: rc.Order})
	switch {
	case errors.Is(err, store.ErrInboxDuplicate):
		// Sent again (DBC resends what it did not see acknowledged): stored once already.
		h.log().Info("Netpunkt receipt received again", "profile", name, "order", untrusted(rc.OrderID), "receipt", untrusted(rc.UUID))
		h.answer(w, http.StatusOK, netpunkt.ReceiptOK, "")
		return
	case errors.Is(err, store.ErrInboxFull):
		w.Header().Set("Retry-After", "300")
		h.answer(w, http.StatusOK, netpunkt.ReceiptTemporaryError, "the profile's inbox is full until a run drains it; retry later")
		return
	case err != nil:
		h.log().Error("storing a Netpunkt receipt", "profile", name, "order", untrusted(rc.OrderID), "error", err)
		h.answer(w, http.StatusOK, netpunkt.ReceiptTemporaryError, "the message could not be stored; retry later")
		return
	}
	h.log().Info("Netpunkt receipt accepted", "profile", name, "order", untrusted(rc.OrderID), "receipt", untrusted(rc.UUID))
	if h.Kick != nil {
		h.Kick(name)
	}
	h.answer(w, http.StatusOK, netpunkt.ReceiptOK, "")
}

// authenticate checks that name is a Netpunkt profile whose receipt password is
// password. It returns why not (for the log only: the caller is told the same whatever
// the reason), or an error when profiles could not be asked.
func (h *Receipts) authenticate(ctx context.Context, name, password string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout())
	defer cancel()
	p, err := h.Profiles.GetIntegrationProfile(ctx, &profilesv1.GetIntegrationProfileRequest{Name: name})
	switch {
	case status.Code(err) == codes.NotFound || status.Code(err) == codes.InvalidArgument:
		return "no such profile", nil
	case err != nil:
		return "", err
	case p.GetSystem() != netpunkt.System.Enum:
		return "not a Netpunkt profile", nil
	}
	creds, err := h.Credentials.GetProfileCredentials(ctx, &profilesv1.GetProfileCredentialsRequest{Name: name})
	switch {
	case status.Code(err) == codes.FailedPrecondition || err == nil && creds.GetReceiptPassword() == "":
		return "the profile has no receipt password", nil
	case err != nil:
		return "", err
	}
	if subtle.ConstantTimeCompare([]byte(password), []byte(creds.GetReceiptPassword())) != 1 {
		return "wrong authenticationPassword", nil
	}
	return "", nil
}

func (h *Receipts) initGuard() {
	h.sources = newFailureLimiter(receiptFreeFailures, receiptFirstLockout, receiptMaxLockout, receiptForget, receiptLimiterKeys, h.now)
	h.profiles = newFailureLimiter(receiptFreeFailures, receiptFirstLockout, receiptMaxLockout, receiptForget, receiptLimiterKeys, h.now)
	h.logs = newLogGate(receiptLogEvery, receiptLogKeys, h.now)
}

// settle ends an admitted attempt for both of its keys; a lockout it starts is logged
// once (at most once a minute per key).
func (h *Receipts) settle(source, name string, o outcome) {
	if lockout, n := h.sources.done(source, o); lockout > 0 {
		h.logGated(context.Background(), slog.LevelWarn, "lockout "+source, "Netpunkt receipts from a source refused for a while after repeated authentication failures",
			"remote", source, "failures", n, "lockout", lockout)
	}
	if lockout, n := h.profiles.done(name, o); lockout > 0 {
		h.logGated(context.Background(), slog.LevelWarn, "lockout "+name, "Netpunkt receipts for a profile refused for a while after repeated authentication failures",
			"profile", name, "failures", n, "lockout", lockout)
	}
}

// tooMany answers temporary_error_please_resend with Retry-After to an attempt the
// limiters did not admit. Refusals during a
// lockout are not logged (its start was); a burst refused for being too many at once is,
// gated.
func (h *Receipts) tooMany(w http.ResponseWriter, wait time.Duration, busy bool, key, value string) {
	secs := int((wait + time.Second - 1) / time.Second)
	if busy {
		h.logGated(context.Background(), slog.LevelWarn, "busy "+value, "Netpunkt receipts refused: too many attempts at once", key, value)
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	h.answer(w, http.StatusOK, netpunkt.ReceiptTemporaryError, "too many failed attempts; retry after "+strconv.Itoa(secs)+" s")
}

// logGated logs a line unless one of the same key was logged less than a minute ago,
// with the number of lines held back since the last.
func (h *Receipts) logGated(ctx context.Context, level slog.Level, key, msg string, args ...any) {
	if ok, held := h.logs.allow(key); ok {
		h.log().Log(ctx, level, msg, append(args, "suppressed", held)...)
	}
}

// answer writes a SOAP receiptResponse with receiptStatus status and message msg; code
// is HTTP 200 for everything posted to a receipt endpoint.
func (h *Receipts) answer(w http.ResponseWriter, code int, status, msg string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(code)
	w.Write(netpunkt.ReceiptResponse(status, msg))
}

func (h *Receipts) log() *slog.Logger {
	if h.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Log
}

func (h *Receipts) now() time.Time {
	if h.Now == nil {
		return time.Now()
	}
	return h.Now()
}

func (h *Receipts) timeout() time.Duration {
	if h.CallTimeout <= 0 {
		return 10 * time.Second
	}
	return h.CallTimeout
}

// Kicker turns pushes into runs: Kick marks a profile as wanting a run, and Run starts
// one for each profile marked at least Delay ago, so that a burst of receipts becomes one
// run rather than one each. A profile whose run is in progress stays marked until that
// run has ended, since its inbox may have been drained before the push arrived; any other
// refusal (an incomplete profile, say) unmarks it, and the schedule's next run drains the
// inbox instead.
type Kicker struct {
	Start func(ctx context.Context, profileName string) error
	Log   *slog.Logger
	// Delay is how long a mark waits for more receipts (default 1s; negative: none).
	Delay time.Duration
	// Poll is how often marks are looked at (default 250ms).
	Poll time.Duration

	mu      sync.Mutex
	pending map[string]*mark
}

// mark is a profile's wish for a run.
type mark struct {
	kicks uint64 // a kick after Start was called keeps the profile marked
	since time.Time
}

// Kick asks for a run of the named profile.
func (k *Kicker) Kick(profileName string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.pending == nil {
		k.pending = map[string]*mark{}
	}
	m := k.pending[profileName]
	if m == nil {
		m = &mark{since: time.Now()}
		k.pending[profileName] = m
	}
	m.kicks++
}

// Run starts the wanted runs until ctx ends.
func (k *Kicker) Run(ctx context.Context) {
	delay, poll := k.Delay, k.Poll
	if delay == 0 {
		delay = time.Second
	}
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		due := map[string]uint64{}
		k.mu.Lock()
		for n, m := range k.pending {
			if time.Since(m.since) >= delay {
				due[n] = m.kicks
			}
		}
		k.mu.Unlock()
		for n, kicks := range due {
			err := k.Start(ctx, n)
			if e, ok := apierr.As(err); ok && e.Reason == reasonRunInProgress {
				continue // stays marked: the run in progress may have missed the push
			}
			if err != nil && ctx.Err() == nil && k.Log != nil {
				k.Log.Warn("a pushed receipt could not start a run; the schedule's next run imports it", "profile", n, "error", err)
			}
			k.mu.Lock()
			if m := k.pending[n]; m != nil && m.kicks == kicks {
				delete(k.pending, n)
			} else if m != nil {
				m.since = time.Now() // kicked again meanwhile: another run, after the delay
			}
			k.mu.Unlock()
		}
	}
}
