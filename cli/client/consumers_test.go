package client

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/cli/clitest"
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
)

// gantry events reads a log of large messages: reading one stream must not
// hold up the requests for the next (it asked for 512 messages at once:
// 256 MB of 500 KB observations ahead of the next stream's info).
func TestEventsReadsLargeMessages(t *testing.T) {
	c := newReadCluster(t)
	big := strings.Repeat("x", 500<<10)
	ctx := context.Background()
	var msgs []bus.Outgoing
	for i := range 300 {
		env, err := events.Seal(&events.IntentApplied{Kind: "deployment", Namespace: "default", Name: "big", Object: []byte(`"` + big + `"`)},
			events.Meta{ID: events.NewID(), Source: "node/n1", Subject: "default/big", Time: time.Unix(int64(i), 0)})
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, bus.Outgoing{Subject: "gantry.obs.n1.pod.default.big", Envelope: env})
	}
	for i := 0; i < len(msgs); i += 50 {
		res, err := bus.Publish(ctx, c.conn.JS, msgs[i:i+50])
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
	}
	c.publish(t, events.IntentSubject("default", "deployment", "small"), &events.IntentApplied{Kind: "deployment", Namespace: "default", Name: "small"},
		"cli", "default/small", time.Unix(1000, 0))
	for range 3 {
		code, out, errOut := c.gantry("events")
		if code != 0 {
			t.Fatalf("gantry events exited %d: %s", code, errOut)
		}
		if n := strings.Count(out, "observations/"); n != 300 {
			t.Fatalf("gantry events printed %d observations, want 300; stderr: %s", n, errOut)
		}
	}
	if n := clitest.ConsumerCount(t, c.conn.JS); n != 0 {
		t.Errorf("%d consumers left on the log after gantry events", n)
	}
}
