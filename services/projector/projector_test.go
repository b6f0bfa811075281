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
	// A state decided is written at once, and so is its change.
	l.Advance(time.Second)
	decided, rec := step(l.Append(events.NodeStateSubject("n1"), &events.NodeStateDecided{Node: "n1", Ready: true}))
	if rec.State == nil || !rec.State.Ready {
		t.Errorf("a decided state was not written at once: %+v", rec.State)
	}
	l.Advance(time.Second)
	if rev, rec := step(l.Append(events.NodeStateSubject("n1"), &events.NodeStateDecided{Node: "n1", Reason: "NodeStatusUnknown"})); rev == decided || rec.State == nil || rec.State.Ready {
		t.Errorf("NotReady was not written at once: %+v", rec.State)
	}
}

// A node's AGE survives a restart of the control plane: the restarted
// projector replays the log, the node's agent registers again, and the
// record in the read model keeps the node's creation time.
func TestNodeKeepsItsCreationTimeAcrossARestart(t *testing.T) {
	conn, _ := bustest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	kv, err := conn.JS.KeyValue(ctx, bus.BucketNodes)
	if err != nil {
		t.Fatal(err)
	}
	registeredAt := func(s *projector.Service, rs ...events.Record) time.Time {
		t.Helper()
		for _, r := range rs {
			s.Apply(r)
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		e, err := kv.Get(ctx, "n1")
		if err != nil {
			t.Fatal(err)
		}
		var rec projections.Node
		if err := json.Unmarshal(e.Value(), &rec); err != nil {
			t.Fatal(err)
		}
		return rec.RegisteredAt
	}
	l := pt.NewLog()
	info := pt.NodeInfo("n1", 4000, 8<<30, 110)
	created := l.Now
	info.CreatedAt = &created
	before := []events.Record{l.Registered(info), l.Heartbeat(info)}
	if got := registeredAt(projector.New(conn.JS), before...); !got.Equal(created) {
		t.Fatalf("registeredAt %v, want %v", got, created)
	}

	// The control plane and the agent restart an hour later: the projector
	// replays the log, then reads the agent's new registration (carrying
	// the creation time) and one from an agent older than that field.
	l.Advance(time.Hour)
	legacy := info
	legacy.CreatedAt = nil
	restarted := projector.New(conn.JS)
	if got := registeredAt(restarted, append(before, l.Registered(info), l.Heartbeat(info))...); !got.Equal(created) {
		t.Errorf("after a restart and a new registration: registeredAt %v, want %v", got, created)
	}
	l.Advance(time.Minute)
	if got := registeredAt(restarted, l.Registered(legacy)); !got.Equal(created) {
		t.Errorf("after a registration without a creation time: registeredAt %v, want %v", got, created)
	}
}

// A workload deleted, once it owns nothing, is forgotten by the fold and
// its record leaves the read model: a CronJob's old Jobs do not pile up.
func TestAForgottenWorkloadLeavesTheReadModel(t *testing.T) {
	conn, _ := bustest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	kv, err := conn.JS.KeyValue(ctx, bus.BucketWorkloads)
	if err != nil {
		t.Fatal(err)
	}
	s := projector.New(conn.JS)
	l := pt.NewLog()
	dep := pt.Deployment("default", "web", 1, "nginx")
	pod := pt.PodFor(dep, "dep-uid", "web-abc12", "pod-uid")
	flush := func(rs ...events.Record) {
		t.Helper()
		for _, r := range rs {
			s.Apply(r)
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	flush(l.Accepted(dep, "dep-uid", 1), l.Planned(pod))
	if _, err := kv.Get(ctx, "deployment.default.web"); err != nil {
		t.Fatalf("the record is not written: %v", err)
	}
	flush(l.AcceptedDelete("deployment", "default", "web", "dep-uid", 1))
	if _, err := kv.Get(ctx, "deployment.default.web"); err != nil {
		t.Fatalf("a deleted workload that still owns a pod lost its record: %v", err)
	}
	flush(l.Deleted(pod, "", 0, "deployment deleted")) // unbound: gone at once, and its owner with it
	if _, err := kv.Get(ctx, "deployment.default.web"); err == nil {
		t.Fatal("the forgotten workload's record is still in the read model")
	}
}
