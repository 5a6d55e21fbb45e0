package k8s

import (
	"bytes"
	"io"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/interloan/interloan/platform/auth"
	"github.com/interloan/interloan/platform/config"
	consoleapp "github.com/interloan/interloan/services/console/app"
)

// oidcComponent is the optional single sign-on component.
const oidcComponent = "components/oidc"

// The console's client secret: the Secret and key the component mounts, and where.
const (
	oidcSecret    = "interloan-console-oidc"
	oidcSecretKey = "client-secret"
	oidcSecretDir = "/etc/interloan/oidc"
)

// oidcSecretCommand is how docs/deploy.md creates the client secret's Secret; the test
// stands in for it where an overlay renders its Secrets itself (dev).
const oidcSecretCommand = "create secret generic " + oidcSecret + " --from-file=" + oidcSecretKey + "="

// TestOIDCComponent renders the base and every overlay with components/oidc, listed both
// in a deployer's kustomization that names the overlay and in the overlay's own, and
// checks that each workload whose binary takes the shared OpenID Connect flags (the
// services and the console, from their own Config.Bind) gets the same issuer, roles
// claim and role map, which the binary's own checks accept; that the services get an
// audience, and only the console its client registration and the client secret, mounted
// read-only from the Secret docs/deploy.md creates; that the gateway gets none of it;
// that everything the overlay passes alone still passes; and that the provider's port
// and DNS are open beyond the namespace to exactly those workloads, never to private
// ranges, and only with the component.
func TestOIDCComponent(t *testing.T) {
	doc, err := os.ReadFile("../../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, []byte(oidcSecretCommand)) {
		t.Errorf("docs/deploy.md does not show how to create the Secret %s (%s…)", oidcSecret, oidcSecretCommand)
	}
	for _, target := range append([]string{"base"}, overlays(t)...) {
		t.Run(target, func(t *testing.T) {
			without := render(t, target)
			for name, w := range without.workloads() {
				if _, st := podEnv(t, without, w, binaries[name]); st.oidc != nil && st.oidc.Enabled() {
					t.Errorf("without %s, %s has an OpenID issuer %q", oidcComponent, name, st.oidc.Issuer)
				}
				if mountsSecret(w, oidcSecret) {
					t.Errorf("without %s, %s mounts %s", oidcComponent, name, oidcSecret)
				}
			}
			if p := policyNamed(without, "oidc-provider"); p != nil {
				t.Errorf("without %s, the policy %s exists", oidcComponent, p.Name)
			}

			for _, inside := range []bool{false, true} {
				t.Run(map[bool]string{false: "deployer", true: "inside"}[inside], func(t *testing.T) {
					o := renderBuild(t, target, build{components: []string{oidcComponent}, inside: inside})
					standInOIDCSecret(o)
					checkNamespace(t, o)
					if target != "base" { // the base alone names no image tag
						checkSuite(t, o)
					}
					shared := checkOIDCSettings(t, o)
					checkNetworkPolicy(t, o, oidcEgress(t, o, shared.Issuer))
					if policyNamed(o, "oidc-provider") == nil {
						t.Error("no NetworkPolicy oidc-provider")
					}
				})
			}
		})
	}
}

// TestOIDCComponentTakesTheOverlaysValues: an overlay sets its provider with the patch
// docs/deploy.md shows (its "# oidc.yaml" block), with the component listed in the
// overlay or in a deployer's kustomization, and every value of it reaches the
// workloads that take it, in place of the component's examples.
func TestOIDCComponentTakesTheOverlaysValues(t *testing.T) {
	doc, err := os.ReadFile("../../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	patch := oidcPatchFromDoc(t, doc)
	var want []corev1.ConfigMap
	for part := range strings.SplitSeq(patch, "\n---\n") {
		cm, err := decodeStrict[corev1.ConfigMap]([]byte(part))
		if err != nil {
			t.Fatalf("the docs' oidc.yaml: %v", err)
		}
		want = append(want, *cm)
	}
	for _, overlay := range overlays(t) {
		for _, inside := range []bool{false, true} {
			t.Run(overlay+map[bool]string{false: "/deployer", true: "/inside"}[inside], func(t *testing.T) {
				o := renderBuild(t, overlay, build{components: []string{oidcComponent}, inside: inside, patches: map[string]string{"oidc.yaml": patch}})
				standInOIDCSecret(o)
				checkSuite(t, o)
				checkOIDCSettings(t, o)
				seen := map[string]bool{}
				for name, w := range o.workloads() {
					env, _ := podEnv(t, o, w, binaries[name])
					for _, cm := range want {
						for k, v := range cm.Data {
							got, ok := env[k]
							if ok && got != v {
								t.Errorf("%s: %s=%q, want the overlay's %q", name, k, got, v)
							}
							seen[k] = seen[k] || ok
						}
					}
				}
				for _, cm := range want {
					for k := range cm.Data {
						if !seen[k] {
							t.Errorf("the overlay's %s reaches no workload", k)
						}
					}
				}
			})
		}
	}
}

// oidcPatchFromDoc is the YAML block of docs/deploy.md that starts with "# oidc.yaml".
func oidcPatchFromDoc(t *testing.T, doc []byte) string {
	t.Helper()
	_, rest, ok := strings.Cut(string(doc), "```yaml\n# oidc.yaml\n")
	block, _, closed := strings.Cut(rest, "```")
	if !ok || !closed {
		t.Fatal("docs/deploy.md has no ```yaml block starting with # oidc.yaml")
	}
	return block
}

// checkOIDCSettings checks the OpenID Connect settings of every workload (see
// TestOIDCComponent) and returns the shared ones.
func checkOIDCSettings(t *testing.T, o *objects) auth.OIDCConfig {
	t.Helper()
	var shared *auth.OIDCConfig
	var takers []string
	ws := o.workloads()
	for _, name := range slices.Sorted(maps.Keys(ws)) {
		w, b := ws[name], binaries[name]
		env, st := podEnv(t, o, w, b)
		secret := mountsSecret(w, oidcSecret)
		if b.defaults(t).oidc == nil {
			// A binary without the flags (the gateway): podEnv already refuses any
			// INTERLOAN_OIDC_* it would be given.
			if secret {
				t.Errorf("%s takes no OpenID Connect flags yet mounts %s", name, oidcSecret)
			}
			continue
		}
		takers = append(takers, name)
		c := *st.oidc
		if !c.Enabled() {
			t.Errorf("%s: no INTERLOAN_OIDC_ISSUER", name)
			continue
		}
		common := auth.OIDCConfig{Issuer: c.Issuer, RolesClaim: c.RolesClaim, RoleMap: c.RoleMap}
		if shared == nil {
			shared = &common
		} else if common != *shared {
			t.Errorf("%s: issuer and role map %+v, want the same as the others' %+v", name, common, *shared)
		}
		if st.oidcClient == nil {
			// A service: the audience, and the whole configuration as it checks it at start.
			if _, err := auth.NewOIDCAuthenticator(c, slog.New(slog.DiscardHandler)); err != nil {
				t.Errorf("%s refuses its OpenID Connect settings: %v", name, err)
			}
			for k := range env {
				if strings.HasPrefix(k, "INTERLOAN_OIDC_CLIENT") || k == "INTERLOAN_OIDC_REDIRECT_URL" {
					t.Errorf("%s is given the console's %s", name, k)
				}
			}
			if secret {
				t.Errorf("%s mounts the console's %s", name, oidcSecret)
			}
			continue
		}
		checkConsoleOIDC(t, w, *st.oidcClient)
	}
	// The binaries that take the flags, from their code: the four services and the console.
	var want []string
	for _, name := range slices.Sorted(maps.Keys(binaries)) {
		if binaries[name].defaults(t).oidc != nil {
			want = append(want, name)
		}
	}
	if !slices.Equal(takers, want) || len(want) != len(binaries)-1 {
		t.Errorf("workloads with OpenID Connect settings %v, want every binary that takes them %v (all but the gateway)", takers, want)
	}
	if shared == nil {
		t.Fatal("no workload has OpenID Connect settings")
	}
	return *shared
}

// checkConsoleOIDC: the console's registration passes the checks the console makes at
// start, and its client secret is the file of the component's Secret, mounted whole and
// read-only.
func checkConsoleOIDC(t *testing.T, w workload, c consoleapp.OIDC) {
	t.Helper()
	if err := auth.CheckIssuer(c.Issuer); err != nil {
		t.Error(err)
	}
	if _, err := auth.ParseRoleMap(c.RolesClaim, c.RoleMap); err != nil {
		t.Errorf("role map: %v", err)
	}
	if c.ClientID == "" {
		t.Error("no INTERLOAN_OIDC_CLIENT_ID")
	}
	callback := consoleCallbackPath(t)
	if u, err := url.Parse(c.RedirectURL); err != nil || u.Scheme != "https" || u.Host == "" || u.Path != callback || u.RawQuery != "" {
		t.Errorf("INTERLOAN_OIDC_REDIRECT_URL %q: want https://<console host>%s", c.RedirectURL, callback)
	}
	if want := path.Join(oidcSecretDir, oidcSecretKey); c.ClientSecretFile != want {
		t.Errorf("INTERLOAN_OIDC_CLIENT_SECRET_FILE %q, want %s", c.ClientSecretFile, want)
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range w.pod.Spec.Volumes {
		volumes[v.Name] = v
	}
	found := false
	for _, m := range w.pod.Spec.Containers[0].VolumeMounts {
		v := volumes[m.Name]
		if m.MountPath != oidcSecretDir || v.Secret == nil {
			continue
		}
		found = true
		items := v.Secret.Items
		switch {
		case v.Secret.SecretName != oidcSecret:
			t.Errorf("%s holds Secret %s, want %s", oidcSecretDir, v.Secret.SecretName, oidcSecret)
		case !m.ReadOnly || m.SubPath != "":
			t.Errorf("%s: want a read-only mount of the whole Secret", oidcSecretDir)
		case len(items) != 1 || items[0].Key != oidcSecretKey || items[0].Path != oidcSecretKey:
			t.Errorf("%s items %+v, want the key %s alone", oidcSecret, items, oidcSecretKey)
		case v.Secret.DefaultMode == nil || *v.Secret.DefaultMode&0o7 != 0:
			t.Errorf("%s: mode %v, want no access for others", oidcSecret, v.Secret.DefaultMode)
		}
	}
	if !found {
		t.Errorf("the console does not mount %s at %s", oidcSecret, oidcSecretDir)
	}
}

// consoleCallback finds the callback path in the console's --oidc-redirect-url usage,
// the path it requires of the URL.
var consoleCallback = regexp.MustCompile(`https://<console host>(/[a-z/]+)`)

func consoleCallbackPath(t *testing.T) string {
	t.Helper()
	s := config.New("console")
	s.SetOutput(io.Discard)
	var c consoleapp.Config
	c.Bind(s)
	f := s.Lookup("oidc-redirect-url")
	if f == nil {
		t.Fatal("the console has no --oidc-redirect-url")
	}
	m := consoleCallback.FindStringSubmatch(f.Usage)
	if m == nil {
		t.Fatalf("--oidc-redirect-url's usage names no callback path: %q", f.Usage)
	}
	return m[1]
}

// oidcEgress is what components/oidc opens beyond the namespace, by workload: the
// issuer's port on the internet and DNS, for every workload that talks to the provider.
func oidcEgress(t *testing.T, o *objects, issuer string) map[string][]string {
	t.Helper()
	u, err := url.Parse(issuer)
	if err != nil {
		t.Fatal(err)
	}
	p := u.Port()
	if p == "" {
		p = "443"
	}
	if _, err := strconv.Atoi(p); err != nil {
		t.Fatalf("issuer port %q", p)
	}
	out := map[string][]string{}
	n := netpol{policies: o.policies, ws: o.workloads()}
	for name, w := range n.ws {
		if binaries[name].defaults(t).oidc == nil {
			continue
		}
		out[name] = []string{"internet TCP/" + p, dnsPeer + " TCP/53", dnsPeer + " UDP/53"}
		checkEgressExceptsPrivate(t, n, w)
	}
	return out
}

// standInOIDCSecret adds the Secret docs/deploy.md has the operator create, where the
// overlay renders its Secrets (so checkFiles looks the mounted key up in them).
func standInOIDCSecret(o *objects) {
	if len(o.secrets) == 0 {
		return
	}
	s := &corev1.Secret{Data: map[string][]byte{oidcSecretKey: []byte("placeholder\n")}}
	s.Name, s.Namespace = oidcSecret, namespace
	o.secrets[oidcSecret] = s
}

func mountsSecret(w workload, name string) bool {
	return slices.ContainsFunc(w.pod.Spec.Volumes, func(v corev1.Volume) bool {
		return v.Secret != nil && v.Secret.SecretName == name
	})
}

func policyNamed(o *objects, name string) *networkingv1.NetworkPolicy {
	for _, p := range o.policies {
		if p.Name == name {
			return p
		}
	}
	return nil
}
