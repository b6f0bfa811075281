package bus_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
)

// A batch that fails on the publisher's side (here its context has ended:
// the first message goes out, the commit does not) is abandoned at once.
// The server holds at most 50 open batches per stream, for 10 s each, so
// without that the 51st batch in a row would be refused as too many in
// flight, and so would the good one after them.
func TestAFailedBatchLeavesNothingOpen(t *testing.T) {
	conn, _ := bustest.Start(t)
	batch := func(i int) []bus.Outgoing {
		var out []bus.Outgoing
		for j := range 3 {
			node := fmt.Sprintf("n-%d-%d", i, j)
			env, err := events.Seal(&events.NodeCordoned{Node: node, Unschedulable: true},
				events.Meta{ID: events.NewID(), Source: "test", Time: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, bus.Outgoing{Subject: events.NodeDecisionSubject(node), Envelope: env, MsgID: env.ID})
		}
		return out
	}
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 60 {
		if _, _, err := bus.PublishAtomic(ended, conn.JS, batch(i)); err == nil {
			t.Fatalf("batch %d stored with an ended context", i)
		} else if errors.Is(err, bus.ErrBusy) {
			t.Fatalf("batch %d: %v: the failed batches before it are still open", i, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := bus.PublishAtomic(ctx, conn.JS, batch(60)); err != nil {
		t.Fatalf("after 60 failed batches: %v", err)
	}
	// The abandoning messages are not stored: only the good batch is.
	st, err := conn.JS.Stream(ctx, events.StreamDecisions)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 3 {
		t.Errorf("the stream holds %d messages, want the good batch's 3", info.State.Msgs)
	}
}
