package app

import (
	"context"
	"strings"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	"github.com/interloan/interloan/services/harvester/internal/scheduler"
	"github.com/interloan/interloan/services/harvester/internal/store"
)

// The import health instruments (docs/operations.md), created once per process through
// the global meter provider; each Run registers the callback that observes them and
// unregisters it when it returns. The run counters and durations are the run package's
// (interloan.harvester.*), the external calls httpcall's (interloan.external.*).
var healthInstruments = newHealthInstruments()

type healthSet struct {
	meter                        metric.Meter // the instruments' own: a callback must be registered with it
	lastSuccess, lastRun, period metric.Float64ObservableGauge
	active, retry, parked        metric.Int64ObservableUpDownCounter
}

func newHealthInstruments() healthSet {
	m := otel.Meter("github.com/interloan/interloan/services/harvester/app")
	// Errors are only for invalid names or units, fixed here; the no-op instruments
	// returned with them observe harmlessly.
	h := healthSet{meter: m}
	h.lastSuccess, _ = m.Float64ObservableGauge("interloan.import.last_success_timestamp", metric.WithUnit("s"),
		metric.WithDescription("End of the profile's newest run that completed its window (a COMPLETED_* state), as Unix time."))
	h.lastRun, _ = m.Float64ObservableGauge("interloan.import.last_run_timestamp", metric.WithUnit("s"),
		metric.WithDescription("End of the profile's newest ended run, as Unix time, labelled with that run's final state."))
	h.period, _ = m.Float64ObservableGauge("interloan.import.schedule_period", metric.WithUnit("s"),
		metric.WithDescription("Nominal time between the profile's scheduled runs; absent when it is not scheduled."))
	h.active, _ = m.Int64ObservableUpDownCounter("interloan.import.runs.active", metric.WithUnit("{run}"),
		metric.WithDescription("Runs of the profile executing now (0 or 1)."))
	h.retry, _ = m.Int64ObservableUpDownCounter("interloan.import.retry_backlog", metric.WithUnit("{request}"),
		metric.WithDescription("Requests of the profile seen but not imported, which later runs fetch again."))
	h.parked, _ = m.Int64ObservableUpDownCounter("interloan.import.parked_items", metric.WithUnit("{request}"),
		metric.WithDescription("Requests of the profile parked after failing run after run: no longer retried until staff retry them."))
	return h
}

// importHealth is what the health instruments read: each profile's last runs, restored
// from the store at start and kept current as runs end, and at each scrape the
// scheduler's jobs, the runner's active runs and the store's backlog counts. Only the
// profiles the scheduler holds (active and runnable) are reported, so a profile deleted
// or deactivated leaves the series and its alerts.
type importHealth struct {
	jobs    func() []scheduler.Job
	active  func() []string
	backlog func() (map[string]store.Backlog, error)

	mu   sync.Mutex
	last map[string]store.LastRuns // by profile code
}

// restore reads every profile's last runs from st: call it once runs left by a crash
// are marked (run.Runner.Recover) and before any run starts.
func (h *importHealth) restore(st *store.Store) error {
	last, err := st.LastRunsByProfile()
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = last
	return nil
}

// ended records a run's final state (run.Deps.Ended).
func (h *importHealth) ended(code string, run *harvesterv1.Run) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.last == nil {
		h.last = map[string]store.LastRuns{}
	}
	l := h.last[code]
	l.Ended = run
	if store.Completed(run.GetState()) {
		l.Completed = run.GetEndTime().AsTime()
	}
	h.last[code] = l
}

// register starts observing; the returned function stops.
func (h *importHealth) register() (func(), error) {
	i := healthInstruments
	reg, err := i.meter.RegisterCallback(h.observe,
		i.lastSuccess, i.lastRun, i.period, i.active, i.retry, i.parked)
	if err != nil {
		return nil, err
	}
	return func() { _ = reg.Unregister() }, nil
}

func (h *importHealth) observe(_ context.Context, o metric.Observer) error {
	i := healthInstruments
	jobs := h.jobs()
	active := map[string]bool{}
	for _, code := range h.active() {
		active[code] = true
	}
	backlog, err := h.backlog() // on error the backlog gauges are left out of this scrape
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, j := range jobs {
		code := j.Code()
		profile := attribute.String("profile", code)
		by := metric.WithAttributes(profile)
		if p := j.Spec.Period(); p > 0 {
			o.ObserveFloat64(i.period, p.Seconds(), by)
		}
		last := h.last[code]
		if !last.Completed.IsZero() {
			o.ObserveFloat64(i.lastSuccess, unixSeconds(last.Completed.UnixNano()), by)
		}
		if r := last.Ended; r != nil {
			state := strings.TrimPrefix(r.GetState().String(), "RUN_STATE_")
			o.ObserveFloat64(i.lastRun, unixSeconds(r.GetEndTime().AsTime().UnixNano()),
				metric.WithAttributes(profile, attribute.String("state", state)))
		}
		n := int64(0)
		if active[code] {
			n = 1
		}
		o.ObserveInt64(i.active, n, by)
		if err == nil {
			o.ObserveInt64(i.retry, int64(backlog[code].Retry), by)
			o.ObserveInt64(i.parked, int64(backlog[code].Parked), by)
		}
	}
	return err
}

func unixSeconds(nanos int64) float64 { return float64(nanos) / 1e9 }
