package app

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/interloan/interloan/services/requests/internal/store"
)

// observeLedger publishes the ledger's requests by status as a gauge read at each scrape
// from the counters the store keeps (no scan). The returned function stops it, before
// the store closes.
func observeLedger(st *store.Store) (stop func() error, err error) {
	m := otel.Meter("github.com/interloan/interloan/services/requests")
	gauge, err := m.Int64ObservableGauge("interloan.ledger.requests", metric.WithUnit("{request}"),
		metric.WithDescription("Borrowing requests in the ledger, by status."))
	if err != nil {
		return nil, err
	}
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		c, err := st.Count("")
		if err != nil {
			return err
		}
		for status, n := range c.ByStatus {
			o.ObserveInt64(gauge, int64(n), metric.WithAttributes(attribute.String("status", strings.TrimPrefix(status.String(), "STATUS_"))))
		}
		return nil
	}, gauge)
	if err != nil {
		return nil, err
	}
	return reg.Unregister, nil
}
