package web

import (
	"net/http"
	"strings"
	"time"
	"unicode"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	adminv1 "github.com/interloan/interloan/gen/interloan/admin/v1"
	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/services/console/internal/session"
)

// preCookie ties the sign-in form to the browser that loaded it, so another site cannot
// sign a victim in under the attacker's token (login CSRF): the form carries the same
// random value as this short-lived cookie.
const preCookie = "__Host-interloan-signin"

// nonceLen is the length of session.Random's values.
const nonceLen = 43

// staffRoles are the roles a person signs in with; a service identity (harvester) has
// no console.
var staffRoles = []string{string(auth.RoleAdmin), string(auth.RoleOperator), string(auth.RoleViewer)}

type signinData struct {
	Next   string
	Nonce  string
	Error  string // catalog key
	Method string
	// Provider names the OpenID provider of the "Sign in with" button ("" without one).
	Provider string
}

func (h *Handler) signinForm(w http.ResponseWriter, r *http.Request) {
	h.showSignin(w, r, http.StatusOK, "")
}

func (h *Handler) showSignin(w http.ResponseWriter, r *http.Request, code int, errKey string) {
	// One nonce per browser for the cookie's life: a second sign-in page (another tab, a
	// redirect) must not invalidate the form of the first.
	var nonce string
	if c, err := r.Cookie(preCookie); err == nil && len(c.Value) == nonceLen {
		nonce = c.Value
	} else if nonce, err = session.Random(); err != nil {
		h.fail(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: preCookie, Value: nonce, Path: "/", MaxAge: int((15 * time.Minute).Seconds()),
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	w.Header().Set("Cache-Control", "no-store")
	h.render(w, r, code, "signin", signinData{Next: localPath(r.FormValue("next")), Nonce: nonce, Error: errKey, Provider: h.oidcProviderName()})
}

// signin checks a pasted API token by asking the identity service who it belongs to,
// with the token itself: the services stay the only judges of a credential.
func (h *Handler) signin(w http.ResponseWriter, r *http.Request) {
	pre, err := r.Cookie(preCookie)
	if err != nil || !sameOrigin(r) || pre.Value == "" || r.PostFormValue("nonce") != pre.Value {
		h.log.Info("console sign-in refused: the form did not come from this browser's sign-in page",
			"has_cookie", err == nil, "same_origin", sameOrigin(r), "origin", r.Header.Get("Origin"), "fetch_site", r.Header.Get("Sec-Fetch-Site"))
		h.fail(w, r, http.StatusForbidden, "error.csrf")
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	token = strings.TrimPrefix(token, "Bearer ")
	if token == "" || len(token) > auth.MaxTokenLen {
		h.showSignin(w, r, http.StatusBadRequest, "signin.error.empty")
		return
	}
	ctx, cancel := h.call(r)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	caller, err := h.identity.GetCaller(ctx, &adminv1.GetCallerRequest{})
	switch status.Code(err) {
	case codes.OK:
	case codes.Unauthenticated:
		h.log.Info("console sign-in refused: token not accepted", "remote", r.RemoteAddr)
		h.showSignin(w, r, http.StatusUnauthorized, "signin.error.refused")
		return
	default:
		h.log.Warn("console sign-in: identity service failed", "error", err)
		h.showSignin(w, r, http.StatusServiceUnavailable, "error.unavailable")
		return
	}
	id := session.Identity{Principal: caller.GetPrincipal(), Method: "token"}
	for _, role := range caller.GetRoles() {
		for _, staff := range staffRoles {
			if role == staff {
				id.Roles = append(id.Roles, role)
			}
		}
	}
	if len(id.Roles) == 0 {
		h.log.Info("console sign-in refused: no staff role", "principal", caller.GetPrincipal())
		h.showSignin(w, r, http.StatusForbidden, "signin.error.norole")
		return
	}
	sess, err := h.sessions.Create(id, token)
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	h.startSession(w, r, sess)
	h.log.Info("console sign-in", "principal", id.Principal, "roles", strings.Join(id.Roles, ","), "method", id.Method)
	http.Redirect(w, r, orDefault(localPath(r.PostFormValue("next")), "/requests"), http.StatusSeeOther)
}

// startSession sets the session cookie; any sign-in method ends with it. A session the
// browser already had ends: a sign-in always gets a new id, and the one it replaces
// must not stay usable by whoever else holds it.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, sess *session.Session) {
	if c, err := r.Cookie(cookieName); err == nil {
		h.sessions.Delete(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: preCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: sess.ID, Path: "/", HttpOnly: true, Secure: true,
		SameSite: http.SameSiteStrictMode, MaxAge: int(h.sessions.Limits().Absolute.Seconds())})
}

func (h *Handler) signout(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	h.sessions.Delete(sess.ID)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	h.log.Info("console sign-out", "principal", sess.Identity.Principal)
	// Signed in through the provider: sign out there too (RP-initiated logout).
	if u := h.oidcLogoutURL(r.Context(), sess); u != "" {
		http.Redirect(w, r, u, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/signin?msg=flash.signed_out", http.StatusSeeOther)
}

// localPath keeps a redirect target only if it is a path of this site, so a link
// cannot send a person elsewhere after signing in. Browsers read a backslash as a slash
// and drop tabs and newlines anywhere in a URL ("/\t/evil" is "//evil" to them), so
// neither may appear, nor any other control character.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") ||
		strings.ContainsFunc(p, func(r rune) bool { return r == '\\' || unicode.IsControl(r) }) {
		return ""
	}
	return p
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
