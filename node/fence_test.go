package node_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/node"
	"github.com/gantry-sh/gantry/node/sim"
)

// removing is the simulated runtime, counting removals.
type removing struct {
	*sim.Runtime
	removals atomic.Int64
}

func (r *removing) RemovePod(ctx context.Context, ns, name, uid string) error {
	r.removals.Add(1)
	return r.Runtime.RemovePod(ctx, ns, name, uid)
}

// deletePod appends the deletion of pod i (bound by bind) as a controller
// does when it replaces the pod elsewhere: copied to the node's subject.
func deletePod(t *testing.T, js jetstream.JetStream, nodeName string, i int) {
	t.Helper()
	name := fmt.Sprintf("web-%02d", i)
	appendDecision(t, js, nodeName, name, "replica", events.DeriveID("delete/"+name),
		&events.PodDeleted{Namespace: "default", Name: name, UID: fmt.Sprintf("uid-%08d", i), Node: nodeName, Epoch: 1, Reason: "NodeLost"})
}

// A node agent cut off from the log. For less than FenceAfter: nothing
// moves, its pods run on untouched. For longer: it stops every pod on its
// own (seen in its runtime), no sooner than FenceAfter after its last
// heartbeat; when the log answers again it reads its pods' decisions afresh,
// and before its first heartbeat the pod deleted meanwhile (replaced
// elsewhere) is reported removed and the one still bound here runs again.
func TestAgentFencesItselfWhenCutOffAndRejoinsBeforeItsHeartbeat(t *testing.T) {
	const (
		heartbeat  = 100 * time.Millisecond
		fenceAfter = 3 * time.Second
	)
	conn, natsURL := bustest.Start(t)
	part := bustest.StartPartition(t, natsURL)
	bind(t, conn.JS, "n1", 0)
	bind(t, conn.JS, "n1", 1)
	simRT, err := sim.New(sim.Config{MilliCPU: 4000, Memory: 8 << 30, PodCIDR: "10.42.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	rt := &removing{Runtime: simRT}
	nc, err := bus.Connect(part.URL(), "node-n1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	var logs logLines
	ready := make(chan struct{})
	a := node.New(node.Config{Name: "n1", PodCIDR: "10.42.0.0/24", HeartbeatEvery: heartbeat, FenceAfter: fenceAfter,
		ResyncEvery: 100 * time.Millisecond, Ready: func() { close(ready) }}, rt, nc, zerolog.New(&logs).Level(zerolog.InfoLevel))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
		if t.Failed() {
			t.Logf("agent log:\n%s", logs.buf.String())
		}
	})
	pods := func() map[string]node.PodState {
		ps, err := rt.Pods(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]node.PodState{}
		for _, p := range ps {
			out[p.Name] = p
		}
		return out
	}
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatal("agent not ready")
	}
	if ms := a.Info().FenceAfterMillis; ms != fenceAfter.Milliseconds() {
		t.Errorf("the node announces FenceAfterMillis %d, want %d", ms, fenceAfter.Milliseconds())
	}
	eventually(t, "web-00 and web-01 running", func() bool {
		ps := pods()
		return len(ps) == 2 && ps["web-00"].Containers[0].Running && ps["web-01"].Containers[0].Running
	})
	before := pods()
	heartbeats := func() <-chan *nats.Msg {
		ch := make(chan *nats.Msg, 64)
		sub, err := conn.NC.ChanSubscribe(events.HeartbeatSubject("n1"), ch)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sub.Unsubscribe() })
		if err := conn.NC.Flush(); err != nil {
			t.Fatal(err)
		}
		return ch
	}
	// nextHeartbeat waits for a heartbeat and returns when the agent made it.
	nextHeartbeat := func(ch <-chan *nats.Msg) time.Time {
		t.Helper()
		select {
		case m := <-ch:
			env, err := events.Parse(m.Data)
			if err != nil {
				t.Fatal(err)
			}
			return env.Time
		case <-time.After(20 * time.Second):
			t.Fatal("no heartbeat")
		}
		return time.Time{}
	}

	// A short partition: the client's reconnects are refused twice (its
	// reconnect wait is 250 ms), then the network heals.
	part.Cut()
	eventually(t, "two refused reconnects", func() bool { return part.Refused.Load() >= 2 })
	hb := heartbeats()
	part.Heal()
	nextHeartbeat(hb)
	if n := rt.removals.Load(); n != 0 || a.Fenced() {
		t.Fatalf("after a partition shorter than FenceAfter: %d removals, fenced %v; want none", n, a.Fenced())
	}
	for name, p := range pods() {
		if c, was := p.Containers[0], before[name].Containers[0]; !c.Running || c.Restarts != 0 || !c.StartedAt.Equal(was.StartedAt) {
			t.Errorf("%s after a short partition: %+v, want untouched (%+v)", name, c, was)
		}
	}

	// A long one: the agent stops its pods on its own. Meanwhile the
	// control plane deletes web-01 (replaced elsewhere); web-00 stays bound.
	// The agent beats one heartbeat at a time: once the next one is out,
	// the log's answer to the one made at last has reached the agent.
	last := nextHeartbeat(hb)
	nextHeartbeat(hb)
	part.Cut()
	deletePod(t, conn.JS, "n1", 1)
	eventually(t, "every pod stopped by the fenced agent", func() bool { return len(pods()) == 0 })
	if since := time.Since(last); since < fenceAfter {
		t.Errorf("pods stopped %s after a heartbeat the log acknowledged, before FenceAfter (%s)", since, fenceAfter)
	}
	if !a.Fenced() || logs.count("fencing: stopping every pod") != 1 {
		t.Errorf("fenced %v; the agent did not say once why it stopped its pods", a.Fenced())
	}

	hb = heartbeats()
	part.Heal()
	nextHeartbeat(hb)
	// At the first heartbeat after the partition, the deleted pod's removal
	// is stored and the runtime holds only the pod still bound here.
	removed := false
	for _, s := range read(t, conn.JS, events.StreamObservations, events.ObsPodSubject("n1", "default", "web-01")) {
		if r, ok := s.ev.(*events.PodRemoved); ok && r.UID == "uid-00000001" {
			removed = true
			if s.env.CausationID != events.DeriveID("delete/web-01") {
				t.Errorf("web-01's removal is caused by %q, want its deletion", s.env.CausationID)
			}
		}
	}
	if !removed {
		t.Error("first heartbeat after the partition before web-01's removal was reported")
	}
	if ps := pods(); len(ps) != 1 || !ps["web-00"].Containers[0].Running {
		t.Errorf("at the first heartbeat after the partition the runtime holds %v, want web-00 running again", ps)
	}
	eventually(t, "the agent no longer fenced", func() bool { return !a.Fenced() })
}
