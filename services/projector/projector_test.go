package projector_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/projections"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/projector"
)

// A heartbeat that changes nothing but the time is written to the read
// model at most every HeartbeatStaleness; any other change of the node
// (labels, capacity, cordon) is written at once.
func TestHeartbeatsRewriteTheNodeRecordOnlyWhenStale(t *testing.T) {
	conn, _ := bustest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	kv, err := conn.JS.KeyValue(ctx, bus.BucketNodes)
	if err != nil {
		t.Fatal(err)
	}
	s := projector.New(conn.JS)
	l := pt.NewLog()
	info := pt.NodeInfo("n1", 4000, 8<<30, 110)
	step := func(r events.Record) (revision uint64, rec projections.Node) {
		t.Helper()
		s.Apply(r)
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		e, err := kv.Get(ctx, "n1")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(e.Value(), &rec); err != nil {
			t.Fatal(err)
		}
		return e.Revision(), rec
	}

	first, rec := step(l.Heartbeat(info))
	if !rec.LastHeartbeat.Equal(l.Now) {
		t.Fatalf("first heartbeat not written: %v", rec.LastHeartbeat)
	}
	l.Advance(5 * time.Second)
	if rev, _ := step(l.Heartbeat(info)); rev != first {
		t.Errorf("a heartbeat 5 s later rewrote the record (revision %d → %d)", first, rev)
	}
	l.Advance(5 * time.Second)
	labelled := info
	labelled.Labels = map[string]string{"zone": "a"}
	rev, rec := step(l.Heartbeat(labelled))
	if rev == first || rec.Info.Labels["zone"] != "a" {
		t.Errorf("a label change waited for staleness: revision %d, labels %v", rev, rec.Info.Labels)
	}
	l.Advance(projector.HeartbeatStaleness)
	stale, rec := step(l.Heartbeat(labelled))
	if stale == rev || !rec.LastHeartbeat.Equal(l.Now) {
		t.Errorf("a heartbeat %s after the written one was not written", projector.HeartbeatStaleness)
	}
	l.Advance(time.Second)
	if rev, rec := step(l.Append(events.NodeDecisionSubject("n1"), &events.NodeCordoned{Node: "n1", Unschedulable: true})); rev == stale || !rec.Unschedulable {
		t.Errorf("a cordon was not written at once")
	}
}
