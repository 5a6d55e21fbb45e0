package testenv

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/interloan/interloan/external/libris"
	"github.com/interloan/interloan/external/netpunkt"
	"github.com/interloan/interloan/fakes/fakelibris"
	"github.com/interloan/interloan/fakes/fakenetpunkt"
	"github.com/interloan/interloan/platform/httpserve"
)

// The worlds: in either, the local library MAIN borrows, known to the external system by
// its own code, from three lenders there.
const (
	// LibrisSigel is MAIN's sigel in the Libris world.
	LibrisSigel = "Abc"
	// NetpunktAgency is MAIN's agency in the Netpunkt world.
	NetpunktAgency = "DK-775100"
	// NetpunktUser is the DBC user of every Netpunkt profile; the group is the agency's
	// number.
	NetpunktUser = "interloan"
)

// LibrisLenders and NetpunktLenders are the lenders of the Libris and Netpunkt worlds.
var (
	LibrisLenders   = []string{"Xyz", "Qrs", "Lkp"}
	NetpunktLenders = []string{"DK-710100", "DK-715700", "DK-726500"}
)

// Libris is a fake Libris served over HTTP.
type Libris struct {
	*fakelibris.Server
	// URL is where the fake answers: a profile's base_url.
	URL   string
	close func() error
}

// ServeLibris serves fake on host:port (0: a free port) until Close. Processes other
// than the suite's — the campaign's services — reach it at URL too.
func ServeLibris(fake *fakelibris.Server, host string, port int) (*Libris, error) {
	base, closeFn, err := serve(host, port, fake)
	if err != nil {
		return nil, fmt.Errorf("fake Libris: %w", err)
	}
	return &Libris{Server: fake, URL: base + fake.BasePath(), close: closeFn}, nil
}

// Close stops serving (see serve); closing again does nothing.
func (l *Libris) Close() error { return l.close() }

// Netpunkt is a fake Netpunkt (OpenFindOrder) served over HTTP.
type Netpunkt struct {
	*fakenetpunkt.Server
	// URL is where the fake answers: a profile's base_url.
	URL   string
	close func() error
}

// ServeNetpunkt serves fake on host:port (0: a free port) until Close.
func ServeNetpunkt(fake *fakenetpunkt.Server, host string, port int) (*Netpunkt, error) {
	base, closeFn, err := serve(host, port, fake)
	if err != nil {
		return nil, fmt.Errorf("fake Netpunkt: %w", err)
	}
	return &Netpunkt{Server: fake, URL: base + fake.BasePath(), close: closeFn}, nil
}

// Close stops serving (see serve); closing again does nothing.
func (n *Netpunkt) Close() error { return n.close() }

// serve serves h on host:port until the returned function stops it, and returns its
// base URL. Calls in flight get a second to finish; a fault may hold one on purpose for
// longer, and cutting that is no failure of the fake.
func serve(host string, port int, h http.Handler) (string, func() error, error) {
	lis, err := listen(host, port)
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- httpserve.Run(ctx, &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}, lis, time.Second)
	}()
	stop := sync.OnceValue(func() error {
		cancel()
		if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return nil
	})
	return "http://" + lis.Addr().String(), stop, nil
}

// WorldOptions shape a fake's world. Every field has a default.
type WorldOptions struct {
	// Profile is the profile's code; "" is libris-abc or netpunkt-775100.
	Profile string
	// Key is the credential the fake accepts (the Libris API key, the DBC password), and
	// ReceiptPassword the one Netpunkt's pushed receipts carry; "" is a random one, so
	// that only this process knows it.
	Key, ReceiptPassword string
	// The fake holds Count requests generated from Seed, ordered over the Days days (at
	// least one) up to Until (zero: now). The profile harvests from the first of them.
	Count int
	Days  int
	Seed  int64
	Until time.Time
}

func (o WorldOptions) span() (from, until time.Time) {
	until = o.Until
	if until.IsZero() {
		until = time.Now()
	}
	return until.AddDate(0, 0, -(max(o.Days, 1) - 1)), until
}

// World sets the fake up as MAIN's Libris — o.Key may read sigel LibrisSigel, which has
// o.Count generated requests lent by LibrisLenders — and returns the configuration that
// imports them.
func (l *Libris) World(o WorldOptions) World {
	from, until := o.span()
	key := cmp.Or(o.Key, randomKey())
	l.AddKey(key, LibrisSigel)
	l.Put(fakelibris.Generate(fakelibris.GenerateOptions{Seed: o.Seed, Sigel: LibrisSigel, Count: o.Count, From: from, To: until, Lenders: LibrisLenders})...)
	return World{
		System: libris.System.Enum, Library: LibrisSigel, Partners: slices.Clone(LibrisLenders),
		Profile: Profile(libris.System.Enum, cmp.Or(o.Profile, "libris-abc"), l.URL, LibrisSigel, key, from),
	}
}

// World sets the fake up as MAIN's Netpunkt — NetpunktUser with o.Key may read agency
// NetpunktAgency, which has o.Count generated orders lent by NetpunktLenders — and
// returns the configuration that imports them, receipt password included, and the orders.
func (n *Netpunkt) World(o WorldOptions) (World, []fakenetpunkt.Order) {
	from, until := o.span()
	password := cmp.Or(o.Key, randomKey())
	n.AddCredential(fakenetpunkt.Credential{User: NetpunktUser, Group: netpunktGroup(NetpunktAgency), Password: password}, NetpunktAgency)
	orders := fakenetpunkt.Generate(fakenetpunkt.GenerateOptions{Seed: uint64(o.Seed), Agency: NetpunktAgency, Count: o.Count, From: from, To: until, Lenders: NetpunktLenders})
	n.Put(orders...)
	p := Profile(netpunkt.System.Enum, cmp.Or(o.Profile, "netpunkt-775100"), n.URL, NetpunktAgency, password, from)
	p.ReceiptPassword = cmp.Or(o.ReceiptPassword, randomKey())
	return World{System: netpunkt.System.Enum, Library: NetpunktAgency, Partners: slices.Clone(NetpunktLenders), Profile: p}, orders
}

// netpunktGroup is the DBC group of an agency: its number without the country.
func netpunktGroup(agency string) string { return strings.TrimPrefix(agency, "DK-") }

// randomKey is a throw-away secret.
func randomKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
