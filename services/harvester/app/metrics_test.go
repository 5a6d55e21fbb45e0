package app

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/protobuf/types/known/timestamppb"

	harvesterv1 "github.com/interloan/interloan/gen/interloan/harvester/v1"
	profilesv1 "github.com/interloan/interloan/gen/interloan/profiles/v1"
	"github.com/interloan/interloan/services/harvester/internal/schedule"
	"github.com/interloan/interloan/services/harvester/internal/scheduler"
	"github.com/interloan/interloan/services/harvester/internal/store"
)

// TestImportHealth: the health gauges report the scheduler's profiles only, their last
// completed and last ended runs as restored from the store, a run ending afterwards, the
// active runs, the backlog and the schedule period; a restart (a new store handle and
// importHealth over the same file) reports the same last runs.
func TestImportHealth(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	path := filepath.Join(t.TempDir(), DataFile)
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	addRun := func(code string, state harvesterv1.RunState, end time.Time) *harvesterv1.Run {
		t.Helper()
		r, _, err := st.CreateRun(code, "", func(id uint64) *harvesterv1.Run {
			return &harvesterv1.Run{Name: store.RunName(id), State: state, EndTime: timestamppb.New(end)}
		})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	addRun("abc", harvesterv1.RunState_RUN_STATE_COMPLETED_SUCCESS, t0)
	addRun("abc", harvesterv1.RunState_RUN_STATE_FAILED, t0.Add(time.Hour))
	addRun("gone", harvesterv1.RunState_RUN_STATE_FAILED, t0) // no longer a job: not reported
	if _, err := st.RecordBatch(store.Batch{RunID: 1, Profile: "abc", Now: t0, Retry: []store.RetryEntry{{ExternalID: "1"}, {ExternalID: "2"}}}); err != nil {
		t.Fatal(err)
	}

	spec, err := schedule.Parse(&profilesv1.Schedule{Kind: &profilesv1.Schedule_Interval{Interval: &profilesv1.IntervalSchedule{Minutes: 30}}})
	if err != nil {
		t.Fatal(err)
	}
	jobs := func() []scheduler.Job {
		return []scheduler.Job{
			{Profile: &profilesv1.IntegrationProfile{Name: "integrationProfiles/abc", Code: "abc"}, Spec: spec},
			{Profile: &profilesv1.IntegrationProfile{Name: "integrationProfiles/new", Code: "new"}},
		}
	}
	start := func(st *store.Store) func() {
		t.Helper()
		h := &importHealth{backlog: st.Backlogs, jobs: jobs, active: func() []string { return []string{"new"} }}
		if err := h.restore(st); err != nil {
			t.Fatal(err)
		}
		stop, err := h.register()
		if err != nil {
			t.Fatal(err)
		}
		healthUnderTest = h
		return stop
	}
	stop := start(st)
	want := map[string]float64{
		"interloan.import.last_success_timestamp profile=abc":          float64(t0.Unix()),
		"interloan.import.last_run_timestamp profile=abc,state=FAILED": float64(t0.Add(time.Hour).Unix()),
		"interloan.import.schedule_period profile=abc":                 1800,
		"interloan.import.runs.active profile=abc":                     0,
		"interloan.import.runs.active profile=new":                     1,
		"interloan.import.retry_backlog profile=abc":                   2,
		"interloan.import.retry_backlog profile=new":                   0,
		"interloan.import.parked_items profile=abc":                    0,
		"interloan.import.parked_items profile=new":                    0,
	}
	check(t, reader, want)

	// A run that completes afterwards replaces both, without the store being read again.
	done := addRun("abc", harvesterv1.RunState_RUN_STATE_COMPLETED_NO_RECORDS, t0.Add(2*time.Hour))
	healthUnderTest.ended("abc", done)
	delete(want, "interloan.import.last_run_timestamp profile=abc,state=FAILED")
	want["interloan.import.last_run_timestamp profile=abc,state=COMPLETED_NO_RECORDS"] = float64(t0.Add(2 * time.Hour).Unix())
	want["interloan.import.last_success_timestamp profile=abc"] = float64(t0.Add(2 * time.Hour).Unix())
	check(t, reader, want)

	// A restart restores the same from the file.
	stop()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if st, err = store.Open(path); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	defer start(st)()
	check(t, reader, want)
}

// healthUnderTest is the importHealth the test registered last.
var healthUnderTest *importHealth

// check collects the import health metrics and compares them with want, keyed by
// "name label=value,...".
func check(t *testing.T, reader sdkmetric.Reader, want map[string]float64) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	key := func(name string, set attribute.Set) string {
		k := name + " "
		for i, kv := range set.ToSlice() {
			if i > 0 {
				k += ","
			}
			k += string(kv.Key) + "=" + kv.Value.Emit()
		}
		return k
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					got[key(m.Name, p.Attributes)] = p.Value
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					got[key(m.Name, p.Attributes)] = float64(p.Value)
				}
			}
		}
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (reported %v), want %v", k, g, ok, v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected %s = %v", k, got[k])
		}
	}
}
