package bustest

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/projections/projectiontest"
)

// ReadStored reads every message of stream on filters, in order, each with
// the time the server stored it (for projectiontest.Merge).
func ReadStored(ctx context.Context, js jetstream.JetStream, stream string, filters []string) ([]projectiontest.Stored, error) {
	r, err := bus.Read(ctx, js, stream, jetstream.OrderedConsumerConfig{FilterSubjects: filters, DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	n, ok := r.Pending()
	if !ok {
		return nil, fmt.Errorf("read %s: no pending count", stream)
	}
	out := make([]projectiontest.Stored, 0, n)
	for range n {
		m, err := r.Next(ctx)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", stream, err)
		}
		rec, err := RecordOf(stream, m)
		if err != nil {
			return nil, err
		}
		md, _ := m.Metadata() // RecordOf read it
		out = append(out, projectiontest.Stored{Rec: rec, At: md.Timestamp})
	}
	return out, nil
}

// RecordOf decodes a message of stream into its record (bus.RecordOf).
func RecordOf(stream string, m jetstream.Msg) (events.Record, error) { return bus.RecordOf(stream, m) }
