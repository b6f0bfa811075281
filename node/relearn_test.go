package node_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/node"
)

// A node whose decisions consumer is deleted under it (a restore, an
// accepted loss) makes it again and reads the newest decision of each pod
// afresh: it takes what is bound after, and a pod the log no longer binds to
// it is stopped and reported removed rather than kept unsaid.
func TestAgentRelearnsWhenItsConsumerIsDeleted(t *testing.T) {
	conn, url := bustest.Start(t)
	bind(t, conn.JS, "n1", 0)
	bind(t, conn.JS, "n1", 1)
	var logs logLines
	rt := runSimAgent(t, url, node.Config{Name: "n1", PodCIDR: "10.42.0.0/24", ResyncEvery: 20 * time.Millisecond,
		HeartbeatEvery: 50 * time.Millisecond}, zerolog.New(&logs).Level(zerolog.WarnLevel))
	ctx := context.Background()
	running := func(want ...string) func() bool {
		return func() bool {
			ps, err := rt.Pods(context.Background())
			if err != nil {
				return false
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.Name)
			}
			slices.Sort(got)
			return slices.Equal(got, want)
		}
	}
	eventually(t, "web-00 and web-01 running", running("web-00", "web-01"))

	// The log as a restore leaves it: web-01's binding gone, the consumer too.
	st, err := conn.JS.Stream(ctx, events.StreamDecisions)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(events.NodePodSubject("n1", "default", "web-01"))); err != nil {
		t.Fatal(err)
	}
	if err := conn.JS.DeleteConsumer(ctx, events.StreamDecisions, node.ConsumerName("n1")); err != nil {
		t.Fatal(err)
	}
	bind(t, conn.JS, "n1", 2)

	eventually(t, "web-00 and web-02 running, web-01 stopped", running("web-00", "web-02"))
	eventually(t, "web-01's removal reported", func() bool {
		for _, s := range read(t, conn.JS, events.StreamObservations, events.ObsPodSubject("n1", "default", "web-01")) {
			if _, ok := s.ev.(*events.PodRemoved); ok {
				return true
			}
		}
		return false
	})
	if logs.count("decisions consumer was deleted") != 1 {
		t.Errorf("the agent did not say once that its consumer was deleted:\n%s", logs.buf.String())
	}
}
