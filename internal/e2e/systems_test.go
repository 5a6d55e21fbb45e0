package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/interloan/interloan/fakes/fakelibris"
	"github.com/interloan/interloan/fakes/fakenetpunkt"
	typev1 "github.com/interloan/interloan/gen/interloan/type/v1"
	"github.com/interloan/interloan/internal/testenv"
)

// system is one external system as the end-to-end tests drive it: a fake holding
// generated requests, and what Interloan needs configured for it. The import tests run
// once per system, so each connector meets the same scenarios.
type system struct {
	name string // the subtest's name
	enum typev1.ExternalSystem
	// fake is served at basePath; serve puts it into a suite's options, and url is where
	// that suite serves it.
	fake     http.Handler
	basePath string
	serve    func(o *testenv.Options)
	url      func(e *testenv.Env) string
	// ours and other are library codes in this system (a sigel, an agency id); lenders
	// and stranger are lenders' codes, stranger one that is not a partner.
	ours, other  string
	lenders      []string
	stranger     string
	grant        func(credential, library string)
	generate     func(seed int, library string, n int, from, to time.Time, lenders []string) []extRequest
	setLender    func(id, lender string)
	touch        func(id string) (statusRaw string)
	late         func(library, lender string, day time.Time) extRequest
	inject       func(kind faultKind, times int)
	calls        func() int // every call that reached the fake
	listCalls    func() int // calls listing a window's requests
	pages        func(n int) int
	isChunkStart func(r *http.Request) bool // the first call of a window chunk (crash gate)
}

// extRequest is a generated request as the tests check it in the ledger.
type extRequest struct {
	id, statusRaw, lender string
	day                   time.Time // the day it was ordered
}

type faultKind int

const (
	faultUnavailable faultKind = iota + 1 // HTTP 503
	faultTruncated                        // the listing cut off mid-body
	faultGarbage                          // an HTML page instead of the answer
)

// systems are the connectors the import tests run against.
func systems() []func() *system { return []func() *system{librisSystem, netpunktSystem} }

func librisSystem() *system {
	fake := fakelibris.New(fakelibris.Options{})
	return &system{
		name: "libris", enum: typev1.ExternalSystem_EXTERNAL_SYSTEM_LIBRIS, fake: fake, basePath: fakelibris.DefaultBasePath,
		serve: func(o *testenv.Options) { o.Libris = fake },
		url:   func(e *testenv.Env) string { return e.Libris.URL },
		ours:  "Abc", other: "Def", lenders: []string{"Xyz", "Qrs"}, stranger: "Okand",
		grant: func(key, sigel string) { fake.AddKey(key, sigel) },
		generate: func(seed int, sigel string, n int, from, to time.Time, lenders []string) []extRequest {
			gen := fakelibris.Generate(fakelibris.GenerateOptions{Seed: int64(seed), Sigel: sigel, Count: n, From: from, To: to, Lenders: lenders})
			fake.Put(gen...)
			out := make([]extRequest, len(gen))
			for i, g := range gen {
				day, _ := time.Parse("060102", strings.Split(g.LFNumber, "-")[1])
				out[i] = extRequest{id: g.LFNumber, statusRaw: g.Status, lender: g.ActiveLibrary, day: day}
			}
			return out
		},
		setLender: func(lf, lender string) {
			fake.Touch(lf, func(r *fakelibris.Request) {
				r.ActiveLibrary = lender
				for i := range r.Recipients {
					r.Recipients[i].LibraryCode = lender
				}
			})
		},
		touch: func(lf string) string {
			fake.Touch(lf, func(r *fakelibris.Request) { r.Status = "Levererad"; r.StatusCode = "10" })
			return "Levererad"
		},
		late: func(sigel, lender string, day time.Time) extRequest {
			g := fakelibris.Generate(fakelibris.GenerateOptions{Seed: 99, Sigel: sigel, Count: 1, From: day, To: day, Lenders: []string{lender}})[0]
			g.LFNumber = fmt.Sprintf("%s-%s-9999", sigel, day.Format("060102"))
			g.RequestID = "99999999"
			fake.Put(g)
			return extRequest{id: g.LFNumber, statusRaw: g.Status, lender: lender, day: day}
		},
		inject: func(kind faultKind, times int) {
			f := fakelibris.Fault{Match: "/outgoing", Times: times}
			switch kind {
			case faultUnavailable:
				f.Status = http.StatusServiceUnavailable
			case faultTruncated:
				f.Truncate = true
			case faultGarbage:
				f.NonJSON = true
			}
			fake.Inject(f)
		},
		calls:        func() int { return fake.Calls("/illrequests/") },
		listCalls:    func() int { return fake.Calls("/outgoing") },
		pages:        func(int) int { return 1 },
		isChunkStart: func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/outgoing") },
	}
}

// netpunktStep is the connector's default page size (stepValue).
const netpunktStep = 50

func netpunktSystem() *system {
	fake := fakenetpunkt.New(fakenetpunkt.Options{})
	update := func(id string, change func(*fakenetpunkt.Order)) {
		o, ok := fake.Get(id)
		if !ok {
			panic("no order " + id) // a broken test, not a broken system
		}
		change(&o)
		o.LastModification = o.LastModification.Add(time.Second)
		fake.Put(o)
	}
	raw := func(o fakenetpunkt.Order) string {
		return fmt.Sprintf("requester=%s;provider=%s;answer=%s", o.RequesterOrderState, o.ProviderOrderState, o.ProviderAnswer)
	}
	return &system{
		name: "netpunkt", enum: typev1.ExternalSystem_EXTERNAL_SYSTEM_NETPUNKT, fake: fake, basePath: fakenetpunkt.DefaultBasePath,
		serve: func(o *testenv.Options) { o.Netpunkt = fake },
		url:   func(e *testenv.Env) string { return e.Netpunkt.URL },
		// Our agency written bare, a lender in lower case: both are normalised.
		ours: "775100", other: "785100", lenders: []string{"DK-710100", "dk-715700"}, stranger: "DK-799999",
		// The agencies are written bare, so each is its own DBC group, as testenv.Profile
		// configures it.
		grant: func(password, agency string) {
			fake.AddCredential(fakenetpunkt.Credential{User: testenv.NetpunktUser, Group: agency, Password: password}, agency)
		},
		generate: func(seed int, agency string, n int, from, to time.Time, lenders []string) []extRequest {
			gen := fakenetpunkt.Generate(fakenetpunkt.GenerateOptions{Seed: uint64(seed), Agency: agency, Count: n, From: from, To: to, Lenders: lenders,
				Prefix: fmt.Sprintf("S%d-", seed)})
			fake.Put(gen...)
			out := make([]extRequest, len(gen))
			for i, g := range gen {
				out[i] = extRequest{id: g.OrderID, statusRaw: raw(g), lender: g.ResponderID, day: g.CreationDate}
			}
			return out
		},
		setLender: func(id, lender string) { update(id, func(o *fakenetpunkt.Order) { o.ResponderID = lender }) },
		touch: func(id string) string {
			var got string
			update(id, func(o *fakenetpunkt.Order) {
				o.RequesterOrderState, o.ProviderOrderState, o.ProviderAnswer = "requested", "shipped", "will_supply"
				got = raw(*o)
			})
			return got
		},
		late: func(agency, lender string, day time.Time) extRequest {
			g := fakenetpunkt.Generate(fakenetpunkt.GenerateOptions{Seed: 99, Agency: agency, Count: 1, From: day, To: day, Lenders: []string{lender}, Prefix: "LATE"})[0]
			fake.Put(g)
			return extRequest{id: g.OrderID, statusRaw: raw(g), lender: lender, day: day}
		},
		inject: func(kind faultKind, times int) {
			f := fakenetpunkt.Fault{Match: "findAllIllOrders", Times: times}
			switch kind {
			case faultUnavailable:
				f.Status = http.StatusServiceUnavailable
			case faultTruncated:
				f.Truncate = true
			case faultGarbage:
				f.NonXML = true
			}
			fake.Inject(f)
		},
		calls:     fake.Calls,
		listCalls: func() int { return fake.CallsOf("findAllIllOrders") },
		pages:     func(n int) int { return n/netpunktStep + 1 },
		isChunkStart: func(r *http.Request) bool {
			body, err := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			req, perr := fakenetpunkt.ParseRequest(body)
			return err == nil && perr == nil && req.Operation == "findAllIllOrders" && req.Get("start") == "1"
		},
	}
}

// forEachSystem runs test once per connector, as a subtest named after the system.
func forEachSystem(t *testing.T, test func(t *testing.T, sys *system)) {
	for _, newSystem := range systems() {
		sys := newSystem()
		t.Run(sys.name, func(t *testing.T) { test(t, sys) })
	}
}
