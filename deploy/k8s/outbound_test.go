package k8s

import (
	"net/netip"
	"net/url"
	"slices"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/interloan/interloan/external"
)

// realBaseURLs are the base URLs of the real external systems, as docs/connectors gives
// them: the production allow-list must let exactly their hosts through.
var realBaseURLs = []string{
	"https://iller.libris.kb.se/librisfjarrlan/api",
	"https://openfindorder.addi.dk/2.8/",
}

// TestOutboundPolicy: in every overlay the harvester keeps private networks refused (no
// overlay runs fakes in the cluster) and its --allowed-hosts parses, which the binary
// checks at start. In production the list holds the real systems' hosts and nothing
// else. Below the harvester's own check, its egress NetworkPolicy leaves out the
// loopback, private and link-local ranges.
func TestOutboundPolicy(t *testing.T) {
	for _, overlay := range overlays(t) {
		t.Run(overlay, func(t *testing.T) {
			o := render(t, overlay)
			ws := o.workloads()
			w, ok := ws["harvester"]
			if !ok {
				t.Fatal("no harvester workload")
			}
			_, st := podEnv(t, o, w, binaries["harvester"])
			if st.outbound.allowPrivate {
				t.Error("the harvester may call private networks (INTERLOAN_ALLOW_PRIVATE_NETWORKS)")
			}
			hosts, err := external.ParseAllowedHosts(st.outbound.allowedHosts)
			if err != nil {
				t.Fatalf("INTERLOAN_ALLOWED_HOSTS: %v", err)
			}
			checkEgressExceptsPrivate(t, netpol{policies: o.policies, ws: ws}, w)

			if overlay != "overlays/production" {
				return
			}
			var real []string
			for _, base := range realBaseURLs {
				u, err := url.Parse(base)
				if err != nil {
					t.Fatal(err)
				}
				real = append(real, u.Hostname())
				if !hosts.Allows(u.Hostname()) {
					t.Errorf("the allow-list %q refuses %s", st.outbound.allowedHosts, base)
				}
			}
			for _, h := range hosts {
				if !slices.Contains(real, h) {
					t.Errorf("the allow-list has %q, which is no real system's host %v", h, real)
				}
			}
			for _, h := range []string{"169.254.169.254", "127.0.0.1", "localhost", "kubernetes.default.svc", "profiles", "attacker.example", "iller.libris.kb.se.attacker.example"} {
				if hosts.Allows(h) {
					t.Errorf("the allow-list lets %s through", h)
				}
			}
		})
	}
}

// checkEgressExceptsPrivate: every internet-wide ipBlock w's egress opens leaves out the
// addresses inside the cluster or the node (for the harvester: those a profile could aim
// at).
func checkEgressExceptsPrivate(t *testing.T, n netpol, w workload) {
	t.Helper()
	inside := []string{"10.0.0.1", "10.96.0.1", "100.64.0.1", "127.0.0.1", "169.254.169.254", "172.16.0.1", "192.168.1.1", "::1", "fd00::1", "fe80::1"}
	blocks := 0
	for _, p := range n.selecting(w, networkingv1.PolicyTypeEgress) {
		for _, r := range p.Spec.Egress {
			for _, peer := range r.To {
				b := peer.IPBlock
				if b == nil {
					continue
				}
				cidr, err := netip.ParsePrefix(b.CIDR)
				if err != nil {
					t.Errorf("ipBlock %q: %v", b.CIDR, err)
					continue
				}
				blocks++
				for _, a := range inside {
					addr := netip.MustParseAddr(a)
					if !cidr.Contains(addr) {
						continue
					}
					if !slices.ContainsFunc(b.Except, func(e string) bool {
						p, err := netip.ParsePrefix(e)
						return err == nil && p.Contains(addr)
					}) {
						t.Errorf("%s's egress to %s reaches %s (policy %s)", w.name, b.CIDR, a, p.Name)
					}
				}
			}
		}
	}
	if blocks == 0 {
		t.Errorf("%s's egress opens no ipBlock: it cannot reach beyond the cluster", w.name)
	}
}
