package external

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"

	"github.com/interloan/interloan/external/connector"
	"github.com/interloan/interloan/external/httpcall"
	"github.com/interloan/interloan/external/libris"
)

func TestNonGlobal(t *testing.T) {
	for _, tc := range []struct {
		addr, class string // class "" for a global address
	}{
		{"8.8.8.8", ""},
		{"193.10.12.1", ""},
		{"2001:4860:4860::8888", ""},
		{"::ffff:8.8.8.8", ""},
		{"64:ff9b::808:808", ""}, // NAT64 of 8.8.8.8
		{"127.0.0.1", "loopback"},
		{"127.255.0.9", "loopback"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"}, // IPv4-mapped
		{"64:ff9b::7f00:1", "loopback"},  // NAT64 of 127.0.0.1
		{"2002:7f00:1::1", "loopback"},   // 6to4 of 127.0.0.1
		{"169.254.169.254", "link-local"},
		{"::ffff:169.254.169.254", "link-local"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"10.0.0.5", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"192.168.1.1", "private"},
		{"::ffff:10.0.0.5", "private"},
		{"fc00::1", "private"},
		{"fd12:3456::1", "private"},
		{"100.64.0.1", "shared (carrier-grade NAT)"},
		{"100.127.255.254", "shared (carrier-grade NAT)"},
		{"224.0.0.1", "link-local"}, // link-local multicast
		{"239.1.2.3", "multicast"},
		{"ff02::1", "link-local"},
		{"ff0e::1", "multicast"},
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"0.1.2.3", `"this network"`},
		{"255.255.255.255", "reserved"},
		{"240.0.0.1", "reserved"},
		{"198.18.0.1", "benchmarking"},
		{"192.0.2.1", "documentation"},
		{"2001:db8::1", "documentation"},
		{"::7f00:1", "IPv4-compatible (deprecated)"},
		{"fec0::1", "site-local (deprecated)"},
	} {
		if got := nonGlobal(netip.MustParseAddr(tc.addr)); got != tc.class {
			t.Errorf("nonGlobal(%s) = %q, want %q", tc.addr, got, tc.class)
		}
	}
}

// TestOutboundCheck: what a base URL may name, before any connection. The hosts are the
// ones an attacker tried against the suite, and the other spellings of an IPv4 address.
func TestOutboundCheck(t *testing.T) {
	strict, dev := Outbound{}, Outbound{AllowPrivate: true}
	for _, tc := range []struct {
		base      string
		strict    string // substring of the strict policy's refusal; "" allows
		dev       string // the same with private networks allowed
		allowlist bool   // allowed by the list Outbound{Hosts: libris.kb.se}
	}{
		{"https://iller.libris.kb.se/librisfjarrlan/api", "", "", true},
		{"https://8.8.8.8/", "", "", false},
		{"https://[2001:4860:4860::8888]/", "", "", false},
		{"http://localhost:8089/api", "", "", false}, // a name: the dial checks it
		{"http://cafe.de/", "", "", false},           // hex letters, but a name
		{"http://169.254.169.254/latest/meta-data/", "link-local", "", false},
		{"http://127.0.0.1/", "loopback", "", false},
		{"http://[::1]:8080/", "loopback", "", false},
		{"http://[::ffff:127.0.0.1]/", "loopback", "", false},
		{"http://10.0.0.5/", "private", "", false},
		{"http://100.64.1.1/", "carrier-grade NAT", "", false},
		{"http://[fe80::1]/", "link-local", "", false},
		{"http://[fe80::1%25eth0]/", "zone", "zone", false},
		{"http://0.0.0.0:80/", "unspecified", "", false},
		{"http://0x7f000001/", "not a plain IP", "not a plain IP", false},
		{"http://127.1/", "not a plain IP", "not a plain IP", false},
		{"http://0177.0.0.1/", "not a plain IP", "not a plain IP", false},
		{"http://127.000.000.001/", "not a plain IP", "not a plain IP", false},
		{"http://2130706433/", "not a plain IP", "not a plain IP", false},
		{"http://0X7F.1/", "not a plain IP", "not a plain IP", false},
		{"http://example.0x1/", "not a plain IP", "not a plain IP", false},
		{"http://10.0.0.5./", "not a plain IP", "not a plain IP", false},
	} {
		for _, p := range []struct {
			o    Outbound
			want string
		}{{strict, tc.strict}, {dev, tc.dev}} {
			err := p.o.check(tc.base)
			if p.want == "" && err != nil || p.want != "" && (err == nil || !strings.Contains(err.Error(), p.want)) {
				t.Errorf("%+v.check(%s) = %v, want %q", p.o, tc.base, err, p.want)
			}
		}
		listed := Outbound{Hosts: AllowedHosts{"iller.libris.kb.se"}, AllowPrivate: true}
		if err := listed.check(tc.base); (err == nil) != tc.allowlist {
			t.Errorf("with an allow-list: check(%s) = %v", tc.base, err)
		}
	}
}

func TestOutboundControl(t *testing.T) {
	if (Outbound{AllowPrivate: true}).control() != nil {
		t.Error("private networks allowed, yet the dialer checks addresses")
	}
	control := Outbound{}.control()
	for _, tc := range []struct {
		address string
		want    string // "" allows
	}{
		{"8.8.8.8:443", ""},
		{"[2001:4860:4860::8888]:443", ""},
		{"127.0.0.1:80", "127.0.0.1 is a loopback address"},
		{"[::ffff:127.0.0.1]:80", "127.0.0.1 is a loopback address"},
		{"[::1]:80", "::1 is a loopback address"},
		{"169.254.169.254:80", "link-local"},
		{"[fe80::1%eth0]:80", "link-local"},
		{"10.1.2.3:443", "private"},
		{"not-an-address:80", "not an IP address"},
	} {
		err := control("tcp", tc.address, nil)
		if tc.want == "" {
			if err != nil {
				t.Errorf("control(%s) = %v", tc.address, err)
			}
			continue
		}
		if !errors.Is(err, httpcall.ErrOutboundRefused) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--allow-private-networks") && tc.want != "not an IP address" {
			t.Errorf("control(%s) = %v, want ErrOutboundRefused mentioning %q", tc.address, err, tc.want)
		}
	}
}

func librisProfile(base string) *profilesv1.IntegrationProfile {
	return &profilesv1.IntegrationProfile{System: typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS,
		SystemConfig: &profilesv1.IntegrationProfile_Libris{Libris: &profilesv1.LibrisConfig{BaseUrl: base, LibraryCode: "Abc"}}}
}

// counting serves every request with h and counts them.
func counting(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1); h(w, r) }))
	t.Cleanup(srv.Close)
	return srv, &n
}

// TestConnectRefusesLoopbackAtDial: a base URL naming a host (localhost) that resolves to
// a loopback address passes Connect, but its connector never reaches the address: the
// call ends at once, unreachable, with a message that names the policy and the remedy.
// The same connector reaches it when private networks are allowed.
func TestConnectRefusesLoopbackAtDial(t *testing.T) {
	srv, hits := counting(t, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	u, _ := url.Parse(srv.URL)
	base := "http://localhost:" + u.Port() + "/librisfjarrlan/api"

	c, err := Connect(Outbound{}, librisProfile(base), "secret-api-key", connector.Limits{})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	start := time.Now()
	_, _, err = c.Get(context.Background(), "1-1")
	t.Logf("refused in %s: %v", time.Since(start), err)
	if connector.KindOf(err) != connector.KindUnreachable || !strings.Contains(err.Error(), "outbound policy") ||
		!strings.Contains(err.Error(), "loopback") || !strings.Contains(err.Error(), "--allow-private-networks") || strings.Contains(err.Error(), "secret-api-key") {
		t.Fatalf("Get through the strict policy = %v", err)
	}
	if !strings.Contains(err.Error(), "not called") || strings.Contains(err.Error(), "attempts") {
		t.Errorf("a refused address was retried: %v", err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the loopback server got %d calls", n)
	}

	c, err = Connect(Outbound{AllowPrivate: true}, librisProfile(base), "secret-api-key", connector.Limits{})
	if err != nil {
		t.Fatalf("Connect with private networks allowed: %v", err)
	}
	if _, _, err := c.Get(context.Background(), "1-1"); connector.KindOf(err) == connector.KindUnreachable {
		t.Fatalf("with private networks allowed: %v", err)
	}
	if hits.Load() == 0 {
		t.Fatal("with private networks allowed the server was not called")
	}
}

// TestConnectRefusesLiteralAddresses: an address in the base URL is refused before any
// connector exists, naming the address and the policy but never the secret.
func TestConnectRefusesLiteralAddresses(t *testing.T) {
	for _, base := range []string{"http://169.254.169.254/", "http://127.0.0.1:8089/api", "http://[::1]/", "http://0x7f000001/", "http://127.1/", "http://10.0.0.5/", "http://[fe80::1]/"} {
		_, err := Connect(Outbound{}, librisProfile(base), "secret-api-key", connector.Limits{})
		host := strings.Trim(strings.Split(strings.TrimPrefix(base, "http://"), "/")[0], "[]")
		host = strings.TrimSuffix(host, ":8089")
		if err == nil || !strings.Contains(err.Error(), host) || strings.Contains(err.Error(), "secret-api-key") {
			t.Errorf("Connect(%s) = %v", base, err)
		}
	}
}

// TestRedirectCannotReachLoopback: a redirect on the same origin that needs a new
// connection is dialled through the policy too. The first connection is let through as
// if the name had resolved to a public address (a test server can only be on loopback);
// the answer redirects and closes, so following it dials again, and by then the name
// resolves to loopback, as in DNS rebinding. That dial is refused and the redirect's
// target never called.
func TestRedirectCannotReachLoopback(t *testing.T) {
	srv, hits := counting(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/internal/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Connection", "close")
		http.Redirect(w, r, "/internal"+r.URL.Path, http.StatusFound)
	})
	check := Outbound{}.control()
	var dials atomic.Int32
	firstThenPolicy := func(network, address string, c syscall.RawConn) error {
		if dials.Add(1) == 1 {
			return nil
		}
		return check(network, address, c)
	}
	p := librisProfile(srv.URL + "/librisfjarrlan/api")
	c, err := libris.System.Connect(p, "secret-api-key", httpcall.NewClient("Libris", firstThenPolicy), connector.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Get(context.Background(), "1-1")
	if connector.KindOf(err) != connector.KindUnreachable || !strings.Contains(err.Error(), "outbound policy") || !strings.Contains(err.Error(), "127.0.0.1 is a loopback address") {
		t.Fatalf("Get = %v", err)
	}
	if n, d := hits.Load(), dials.Load(); n != 1 || d != 2 {
		t.Fatalf("%d calls reached the server over %d dials, want the first only and a refused second dial", n, d)
	}
}
