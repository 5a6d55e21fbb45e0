package connectortest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/interloan/interloan/external/connector"
)

func TestMeasureHeapCountsVisits(t *testing.T) {
	stop := errors.New("stop")
	h, err := MeasureHeap(func(visit func(*connector.Request) error) error {
		for i := range 2*sampleEvery + 1 {
			r := &connector.Request{}
			if i%3 == 0 {
				r.Problem = "bad date"
			}
			if err := visit(r); err != nil {
				return err
			}
		}
		return stop
	})
	if !errors.Is(err, stop) || h.Visited != 2*sampleEvery+1 || h.Problems != (2*sampleEvery)/3+1 {
		t.Fatalf("%+v, %v", h, err)
	}
	if h.Peak < h.Start || h.Growth() < 0 {
		t.Errorf("peak %d below start %d", h.Peak, h.Start)
	}
}

func TestSleepsRecordsAndHonoursCtx(t *testing.T) {
	var s Sleeps
	if err := s.Sleep(context.Background(), time.Second); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Sleep(ctx, 2*time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("on a done ctx: %v", err)
	}
	if got := s.All(); !slices.Equal(got, []time.Duration{time.Second, 2 * time.Second}) {
		t.Errorf("recorded %v", got)
	}
}
