package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/services/console/internal/session"
)

//go:embed messages
var messagesFS embed.FS

// catalog holds every string a person sees, by key, so a translation is one more
// directory (messages/<language>/, one file per section of the console).
type catalog map[string]string

// loadCatalog merges the files of messages/<lang>/; a key defined twice is an error.
func loadCatalog(lang string) (catalog, error) {
	files, err := fs.Glob(messagesFS, "messages/"+lang+"/*.json")
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("console: no message catalog for %q", lang)
	}
	c := catalog{}
	for _, f := range files {
		data, err := messagesFS.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var part map[string]string
		if err := json.Unmarshal(data, &part); err != nil {
			return nil, fmt.Errorf("console: message catalog %s: %w", f, err)
		}
		for k, v := range part {
			if _, dup := c[k]; dup {
				return nil, fmt.Errorf("console: message catalog: %q is defined twice (again in %s)", k, f)
			}
			c[k] = v
		}
	}
	return c, nil
}

// T formats the message key with args. A missing key shows itself, marked, so a gap is
// visible on the page (and a test fails on it) rather than blank.
func (c catalog) T(key string, args ...any) string {
	msg, ok := c[key]
	if !ok {
		return "[" + key + "]"
	}
	if len(args) == 0 {
		return msg
	}
	return fmt.Sprintf(msg, args...)
}

// pages are the parsed templates: each page is the layout plus its own file.
type pages struct {
	byName map[string]*template.Template
	msgs   catalog
}

func loadPages() (*pages, error) {
	msgs, err := loadCatalog("en")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}, msgs: msgs}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{
		"t":    msgs.T,
		"when": when,
		"link": link,
		"join": strings.Join,
	}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || strings.HasPrefix(name, "_") {
			continue
		}
		// Partials (files starting with _) are shared by every page.
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/_*.html", f)
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// view is what the layout renders around a page.
type view struct {
	Page  string // the template's name; the navigation marks its section
	Me    *session.Identity
	CSRF  string
	Flash string // a catalog key from the redirect that led here
	Data  any
}

// Can reports whether the signed-in person's roles allow method ("Service/Method", e.g.
// "RequestService/SendBorrowingRequest") by the suite's own policy table, so a page
// offers exactly what the service would accept. The service still checks.
func (v view) Can(method string) bool {
	if v.Me == nil {
		return false
	}
	full, ok := fullMethod(method)
	if !ok {
		return false
	}
	p := auth.Principal{Name: v.Me.Principal}
	for _, r := range v.Me.Roles {
		p.Roles = append(p.Roles, auth.Role(r))
	}
	return policy.Allows(full, &p)
}

// fullMethod turns "Service/Method" into the gRPC method name the policy lists.
func fullMethod(method string) (string, bool) {
	svc, name, _ := strings.Cut(method, "/")
	pkg, ok := servicePackages[svc]
	if !ok {
		return "", false
	}
	full := "/" + pkg + "/" + name
	_, listed := policy[full]
	return full, listed
}

// knownMethod reports whether method names an RPC of the policy (templates are checked).
func (view) knownMethod(method string) bool {
	_, ok := fullMethod(method)
	return ok
}

var policy = auth.DefaultPolicy()

// servicePackages maps the short service names pages use to their full gRPC names.
var servicePackages = map[string]string{
	"ProfileService":   "interloan.profiles.v1.ProfileService",
	"MappingService":   "interloan.mapping.v1.MappingService",
	"HarvesterService": "interloan.harvester.v1.HarvesterService",
	"RequestService":   "interloan.requests.v1.RequestService",
}

// render writes page name with data inside the layout. It renders into a buffer first,
// so a template error becomes a clean 500 rather than half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, code int, name string, data any) {
	t, ok := h.pages.byName[name]
	if !ok {
		h.log.Error("console: no such page template", "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	v := view{Page: name, Data: data}
	if s := sessionOf(r); s != nil {
		v.Me, v.CSRF = &s.Identity, s.CSRF
	}
	if key := r.URL.Query().Get("msg"); strings.HasPrefix(key, "flash.") {
		if _, ok := h.pages.msgs[key]; ok {
			v.Flash = key
		}
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		h.log.Error("console: rendering failed", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

type errorData struct {
	Key    string
	Status int
	Detail string // the service's own words, when it gave some
}

// fail renders the error page with a catalog message.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, code int, key string) {
	h.render(w, r, code, "error", errorData{Key: key, Status: code})
}

// redirect sends the browser on after a successful change (post/redirect/get), with a
// catalog key the next page shows as a notice.
func redirect(w http.ResponseWriter, r *http.Request, to, flash string) {
	if flash != "" {
		sep := "?"
		if strings.Contains(to, "?") {
			sep = "&"
		}
		to += sep + "msg=" + url.QueryEscape(flash)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// when renders a time as a <time> element: UTC in the text and the title, and the
// machine-readable instant the script turns into the viewer's own zone. It takes a
// protobuf timestamp or a time.Time; zero renders as a dash.
func when(v any) template.HTML {
	var t time.Time
	switch x := v.(type) {
	case *timestamppb.Timestamp:
		if x == nil || !x.IsValid() || (x.GetSeconds() == 0 && x.GetNanos() == 0) {
			return "—"
		}
		t = x.AsTime()
	case time.Time:
		t = x
	default:
		return "—"
	}
	if t.IsZero() {
		return "—"
	}
	utc := t.UTC()
	// Only formatted times go into this markup, never caller data.
	return template.HTML(fmt.Sprintf(`<time datetime="%s" title="%s">%s</time>`,
		utc.Format(time.RFC3339), utc.Format("2006-01-02 15:04:05 MST"), utc.Format("2006-01-02 15:04 MST")))
}

// link builds base with the query pairs k1, v1, k2, v2…, leaving out empty values.
func link(base string, kv ...any) template.URL {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if v := fmt.Sprint(kv[i+1]); v != "" && v != "0" && v != "false" {
			q.Set(fmt.Sprint(kv[i]), v)
		}
	}
	if len(q) == 0 {
		return template.URL(base)
	}
	return template.URL(base + "?" + q.Encode())
}
