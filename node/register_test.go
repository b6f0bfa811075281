package node_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/events/sealed"
	"github.com/gantry-sh/gantry/node"
	"github.com/gantry-sh/gantry/node/sim"
	"github.com/gantry-sh/gantry/projections"
)

// A registration is the node's own act: its actor is the node and its
// causation the agent's run. The node's creation time is carried from one
// registration to the next, so a restarted agent (or a control plane that
// replays the log) keeps the node's AGE; when the registration has aged out
// of the observations, the last heartbeat still carries it.
func TestRegistrationCarriesActorCausationAndCreationTime(t *testing.T) {
	conn, url := bustest.Start(t)
	nc, err := bus.Connect(url, "node-n1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	rt, err := sim.New(sim.Config{MilliCPU: 4000, Memory: 8 << 30, PodCIDR: "10.42.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	keyDir := filepath.Join(t.TempDir(), node.KeyDirName)
	// run starts an agent whose clock reads at, waits until it is ready and
	// stops it.
	run := func(at time.Time) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan struct{})
		done := make(chan error, 1)
		a := node.New(node.Config{Name: "n1", PodCIDR: "10.42.0.0/24", HeartbeatEvery: time.Hour,
			Clock: func() time.Time { return at }, Ready: func() { close(ready) }, KeyDir: keyDir}, rt, nc, log)
		go func() { done <- a.Run(ctx) }()
		select {
		case <-ready:
		case err := <-done:
			t.Fatalf("agent stopped before it was ready: %v", err)
		case <-time.After(20 * time.Second):
			t.Fatal("agent not ready")
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("agent: %v", err)
		}
	}
	registrations := func() []stored {
		return read(t, conn.JS, events.StreamObservations, events.ObsNodeSubject("n1"))
	}

	run(t0)
	run(t0.Add(time.Hour))
	regs := registrations()
	if len(regs) != 2 {
		t.Fatalf("%d registrations, want 2", len(regs))
	}
	for i, r := range regs {
		e := r.ev.(*events.NodeRegistered)
		if r.env.Actor != node.Actor("n1") || r.env.CausationID == "" || r.env.CorrelationID != r.env.CausationID {
			t.Errorf("registration %d: actor %q causation %q correlation %q, want actor %q and the run as cause",
				i, r.env.Actor, r.env.CausationID, r.env.CorrelationID, node.Actor("n1"))
		}
		if e.Node.CreatedAt == nil || !e.Node.CreatedAt.Equal(t0) {
			t.Errorf("registration %d: createdAt %v, want %v", i, e.Node.CreatedAt, t0)
		}
	}
	// The node's key is made once and kept: both runs announce it.
	k0, k1 := regs[0].ev.(*events.NodeRegistered).Node.SealKey, regs[1].ev.(*events.NodeRegistered).Node.SealKey
	if _, err := sealed.ParsePublicKey(k0); err != nil || k0 != k1 {
		t.Errorf("seal keys announced %q then %q (%v), want one key kept across runs", k0, k1, err)
	}
	if regs[0].env.CausationID == regs[1].env.CausationID {
		t.Errorf("two runs of the agent share the cause %q", regs[0].env.CausationID)
	}

	// The observations age out (7 days): the registration is gone, the
	// heartbeat (in memory) still says when the node was created.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := conn.JS.Stream(ctx, events.StreamObservations)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	run(t0.Add(8 * 24 * time.Hour))
	regs = registrations()
	if len(regs) != 1 || !regs[0].ev.(*events.NodeRegistered).Node.CreatedAt.Equal(t0) {
		t.Fatalf("after the registrations aged out: %d registrations, createdAt %v; want one at %v", len(regs),
			regs[len(regs)-1].ev.(*events.NodeRegistered).Node.CreatedAt, t0)
	}

	// A control plane that replays what is left of the log sees the node's
	// creation time, not the time of the restart.
	c := projections.NewCluster()
	for _, s := range []struct{ stream, filter string }{
		{events.StreamObservations, events.ObsNodeSubject("n1")},
		{events.StreamHeartbeats, events.HeartbeatSubject("n1")},
	} {
		for _, r := range read(t, conn.JS, s.stream, s.filter) {
			c.Apply(events.Record{Stream: s.stream, Subject: s.filter, Seq: r.seq, Envelope: r.env, Event: r.ev})
		}
	}
	if n := c.Nodes["n1"]; n == nil || !n.RegisteredAt.Equal(t0) {
		t.Fatalf("fold after restart: node %+v, want registered at %v", n, t0)
	}
}
