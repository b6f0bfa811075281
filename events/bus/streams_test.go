package bus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
)

// nats-server allows 1,000 consumers per stream unless the stream says
// otherwise; every node agent holds one on the decisions stream, so a
// cluster of more nodes must not hit that default.
func TestDecisionsTakeMoreThanAThousandNodeConsumers(t *testing.T) {
	conn, _ := bustest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A data directory provisioned before the limit was set: the update lifts it.
	st, err := conn.JS.Stream(ctx, events.StreamDecisions)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.MaxConsumers = 0
	if _, err := conn.JS.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := bus.Provision(ctx, conn.JS, 1); err != nil {
		t.Fatalf("provision over an older stream: %v", err)
	}
	for i := range 1001 {
		name := fmt.Sprintf("n%04d", i)
		_, err := conn.JS.CreateOrUpdateConsumer(ctx, events.StreamDecisions, jetstream.ConsumerConfig{
			Durable: "node-" + name, FilterSubject: events.NodeFilter(name), MemoryStorage: true})
		if err != nil {
			t.Fatalf("consumer %d: %v", i+1, err)
		}
	}
}
