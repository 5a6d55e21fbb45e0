package campaign

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/interloan/interloan/fakes/fakelibris"
	requestsv1 "github.com/interloan/interloan/gen/interloan/requests/v1"
	"github.com/interloan/interloan/internal/testenv"
)

// World is the changing data set of the fake Libris: a pool of generated requests, of
// which Reveal puts more into the fake over time, and Churn changes some already there.
// Every order date lies in the last three days, inside every run's window (the
// harvester re-reads --overlap-days=2 days before its cursor), so the truth of each
// request is always what the next complete run must bring into the ledger.
type World struct {
	fake     *fakelibris.Server
	pool     []fakelibris.Request
	revealed []string // lf_numbers put into the fake, in order
	rng      *rand.Rand
}

// Days is how many calendar days, ending today, the world's requests were ordered on.
const Days = 3

// NewWorld generates size requests; none is in the fake yet.
func NewWorld(fake *fakelibris.Server, size int, seed int64, today time.Time) *World {
	pool := fakelibris.Generate(fakelibris.GenerateOptions{Seed: seed, Sigel: testenv.LibrisSigel, Count: size,
		From: today.AddDate(0, 0, -(Days - 1)), To: today, Lenders: testenv.LibrisLenders})
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	rng.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	return &World{fake: fake, pool: pool, rng: rng}
}

// Reveal puts the next n requests of the pool into the fake (fewer when it runs out)
// and returns how many it put.
func (w *World) Reveal(n int) int {
	n = min(n, len(w.pool))
	for _, r := range w.pool[:n] {
		w.fake.Put(r)
		w.revealed = append(w.revealed, r.LFNumber)
	}
	w.pool = w.pool[n:]
	return n
}

// churnStatuses are the statuses Churn moves a request to: the usual progress of a loan.
var churnStatuses = []string{fakelibris.StatusLast, fakelibris.StatusLevererad, fakelibris.StatusNegativtSvar}

// Churn changes n random revealed requests (status and message) and bumps their
// last_modified, as Libris does when a lender answers.
func (w *World) Churn(n int) int {
	n = min(n, len(w.revealed))
	for _, i := range w.rng.Perm(len(w.revealed))[:n] {
		st := churnStatuses[w.rng.IntN(len(churnStatuses))]
		w.fake.Touch(w.revealed[i], func(r *fakelibris.Request) {
			r.Status, r.StatusCode = st, fakelibris.StatusCode(st)
			r.Message = "ändrad " + strconv.Itoa(w.rng.IntN(1000))
		})
	}
	return n
}

// Revealed is how many requests the fake holds.
func (w *World) Revealed() int { return len(w.revealed) }

// Tally compares a ledger with the truth.
type Tally struct {
	Lost       int      // in Libris, not in the ledger
	Duplicated int      // ledger requests beyond the first for one external id
	Mismatched int      // in both, but the ledger's copy is not Libris's current one; or in the ledger only
	Unknown    int      // of Mismatched, those in the ledger only
	Examples   []string // a few of each, for the report
}

func (t *Tally) example(format string, args ...any) {
	if len(t.Examples) < 10 {
		t.Examples = append(t.Examples, fmt.Sprintf(format, args...))
	}
}

// OK reports whether nothing was lost, duplicated or mismatched.
func (t Tally) OK() bool { return t.Lost == 0 && t.Duplicated == 0 && t.Mismatched == 0 }

func (t Tally) String() string {
	return fmt.Sprintf("lost=%d duplicated=%d mismatched=%d", t.Lost, t.Duplicated, t.Mismatched)
}

// Compare tallies the ledger against the fake's current content: every revealed request
// once, with Libris's request id, raw status and last_modified.
func (w *World) Compare(ctx context.Context, c *Cluster) (Tally, error) {
	ledger, err := c.Ledger(ctx)
	if err != nil {
		return Tally{}, err
	}
	return w.tally(ledger), nil
}

func (w *World) tally(ledger map[string][]*requestsv1.BorrowingRequest) Tally {
	var t Tally
	known := make(map[string]bool, len(w.revealed))
	for _, lf := range w.revealed {
		known[lf] = true
		want, _ := w.fake.Get(lf)
		got := ledger[lf]
		switch {
		case len(got) == 0:
			t.Lost++
			t.example("lost %s", lf)
			continue
		case len(got) > 1:
			t.Duplicated += len(got) - 1
			t.example("%s is in the ledger %d times", lf, len(got))
		}
		ref := got[0].GetExternalReference()
		lm, _ := strconv.ParseInt(want.LastModified, 10, 64)
		if ref.GetExternalRequestId() != want.RequestID || ref.GetStatusRaw() != want.Status || ref.GetLastModifiedTime().AsTime().Unix() != lm {
			t.Mismatched++
			t.example("%s: ledger has request id %s, status %q, last_modified %d; Libris %s, %q, %d", lf,
				ref.GetExternalRequestId(), ref.GetStatusRaw(), ref.GetLastModifiedTime().AsTime().Unix(), want.RequestID, want.Status, lm)
		}
	}
	for id, brs := range ledger {
		if !known[id] {
			t.Mismatched += len(brs)
			t.Unknown += len(brs)
			t.example("the ledger holds %s, which Libris never had", id)
		}
	}
	return t
}
