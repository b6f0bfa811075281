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

// Heartbeats live in memory, everything else on disk. A data directory from
// before holds a file-backed heartbeat stream, which JetStream cannot convert
// in place: Provision makes it again in memory.
func TestHeartbeatsLiveInMemoryAndTheRestOnDisk(t *testing.T) {
	conn, _ := bustest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := conn.JS.DeleteStream(ctx, events.StreamHeartbeats); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.JS.CreateStream(ctx, jetstream.StreamConfig{Name: events.StreamHeartbeats,
		Subjects: []string{events.SubjectHeartbeatAll}, Storage: jetstream.FileStorage, MaxMsgsPerSubject: 1}); err != nil {
		t.Fatal(err)
	}
	if err := bus.Provision(ctx, conn.JS, 1); err != nil {
		t.Fatalf("provision over a file-backed heartbeat stream: %v", err)
	}
	if err := bus.Provision(ctx, conn.JS, 1); err != nil {
		t.Fatalf("provision twice: %v", err)
	}
	for _, s := range events.Streams() {
		st, err := conn.JS.Stream(ctx, s.Name)
		if err != nil {
			t.Fatal(err)
		}
		want := jetstream.FileStorage
		if s.Name == events.StreamHeartbeats {
			want = jetstream.MemoryStorage
		}
		if got := st.CachedInfo().Config.Storage; got != want {
			t.Errorf("%s: storage %s, want %s", s.Name, got, want)
		}
	}
}
