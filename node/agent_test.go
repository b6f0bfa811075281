package node_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node"
	"github.com/gantry-sh/gantry/node/sim"
	"github.com/gantry-sh/gantry/services/ingest"
)

// counting is the simulated runtime, counting the agent's reconciles (each
// starts by listing the pods).
type counting struct {
	*sim.Runtime
	lists atomic.Int64
}

func (c *counting) Pods(ctx context.Context) ([]node.PodState, error) {
	c.lists.Add(1)
	return c.Runtime.Pods(ctx)
}

// logLines collects what a logger writes.
type logLines struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logLines) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), s)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stored is one message of a stream.
type stored struct {
	seq   uint64
	msgID string
	batch string // Nats-Batch-Id, on a message stored in an atomic batch
	env   events.Envelope
	ev    events.Event
}

// read returns every message of a stream on filter, oldest first.
func read(t *testing.T, js jetstream.JetStream, stream, filter string) []stored {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	last, err := bus.LastSeq(ctx, js, stream, filter)
	if err != nil {
		t.Fatal(err)
	}
	if last == 0 {
		return nil
	}
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		t.Fatal(err)
	}
	var out []stored
	for len(out) == 0 || out[len(out)-1].seq < last {
		if ctx.Err() != nil {
			t.Fatalf("reading %s on %s: %v", stream, filter, ctx.Err())
		}
		batch, err := cons.FetchNoWait(1024)
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil {
				t.Fatal(err)
			}
			env, err := events.Parse(m.Data())
			if err != nil {
				t.Fatal(err)
			}
			ev, err := env.Decode()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, stored{seq: md.Sequence.Stream, msgID: m.Headers().Get(events.HeaderMsgID),
				batch: m.Headers().Get("Nats-Batch-Id"), env: env, ev: ev})
		}
		if err := batch.Error(); err != nil {
			t.Fatal(err)
		}
		if got == 0 {
			time.Sleep(5 * time.Millisecond) // polling: nothing delivered yet
		}
	}
	return out
}

// runSimAgent runs a node agent named cfg.Name on a simulated runtime
// against the NATS at url until the test ends, and returns the runtime.
func runSimAgent(t *testing.T, url string, cfg node.Config, log zerolog.Logger) *sim.Runtime {
	t.Helper()
	rt, err := sim.New(sim.Config{MilliCPU: 4000, Memory: 8 << 30, PodCIDR: cfg.PodCIDR})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := bus.Connect(url, "node-"+cfg.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	a := node.New(cfg, rt, nc, log)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	})
	return rt
}

// bind appends the binding of pod i to a node, as the scheduler does.
func bind(t *testing.T, js jetstream.JetStream, nodeName string, i int) {
	t.Helper()
	name := fmt.Sprintf("web-%02d", i)
	appendDecision(t, js, nodeName, name, "scheduler", events.DeriveID("bind/"+name), &events.PodBound{Node: nodeName, Epoch: 1, Pod: events.PodPlanned{Namespace: "default", Name: name,
		UID: fmt.Sprintf("uid-%08d", i), Spec: manifest.PodSpec{Containers: []manifest.Container{{Name: "web", Image: "img"}}}}})
}

// appendDecision appends a decision on pod default/name addressed to a
// node, as source, under id.
func appendDecision(t *testing.T, js jetstream.JetStream, nodeName, name, source, id string, ev events.Event) {
	t.Helper()
	env, err := events.Seal(ev, events.Meta{ID: id, Source: source, Subject: "default/" + name, Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	o := bus.Outgoing{Subject: events.NodePodSubject(nodeName, "default", name), Envelope: env, MsgID: id}
	if _, err := bus.PublishOne(context.Background(), js, o); err != nil {
		t.Fatal(err)
	}
}

// An agent given N pods reports each pod's Running status exactly once,
// however often it reconciles afterwards, in a few group-committed writes
// (what gathers while one write is in flight goes in the next), and a
// restarted agent reports none of them again: storing its reports itself,
// and handing them to the control plane's ingest.
func TestStatusReportedOnceInFewWrites(t *testing.T) {
	t.Run("direct", func(t *testing.T) { statusReportedOnce(t, false) })
	t.Run("ingest", func(t *testing.T) { statusReportedOnce(t, true) })
}

func statusReportedOnce(t *testing.T, withIngest bool) {
	const n = 40
	conn, url := bustest.Start(t)
	// The ingest logs each write it makes at debug level.
	var ingestLog logLines
	if withIngest {
		ctx, cancel := context.WithCancel(context.Background())
		g, err := ingest.Start(ctx, conn, ingest.Config{}, zerolog.New(&ingestLog).Level(zerolog.DebugLevel))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cancel(); <-g.Done() })
	}
	for i := range n {
		bind(t, conn.JS, "n1", i)
	}
	simRT, err := sim.New(sim.Config{MilliCPU: 4000, Memory: 8 << 30, PodCIDR: "10.42.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	rt := &counting{Runtime: simRT}
	nc, err := bus.Connect(url, "node-n1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	start := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		// A generous gather window: the 40 simulated pods come up at once,
		// however slow the machine (the race detector) makes the workers.
		a := node.New(node.Config{Name: "n1", PodCIDR: "10.42.0.0/24", ResyncEvery: 20 * time.Millisecond,
			HeartbeatEvery: 50 * time.Millisecond, ReportGather: 500 * time.Millisecond}, rt, nc, log)
		go func() { done <- a.Run(ctx) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("agent: %v", err)
			}
		}
	}
	statuses := func() []stored {
		var out []stored
		for _, s := range read(t, conn.JS, events.StreamObservations, events.ObsPodSubject("n1", "*", "*")) {
			if _, ok := s.ev.(*events.PodStatusObserved); ok {
				out = append(out, s)
			}
		}
		return out
	}
	reconciles := func(more int64) {
		t.Helper()
		from := rt.lists.Load()
		eventually(t, fmt.Sprintf("%d more reconciles", more), func() bool { return rt.lists.Load() >= from+more })
	}

	stop := start()
	eventually(t, fmt.Sprintf("%d statuses", n), func() bool { return len(statuses()) >= n })
	reconciles(20)
	stop()

	got := statuses()
	if len(got) != n {
		t.Fatalf("%d status reports for %d pods, want one each", len(got), n)
	}
	seen := map[string]bool{}
	writes := map[string]bool{} // an atomic batch, or a message on its own
	for _, s := range got {
		st := s.ev.(*events.PodStatusObserved)
		if st.Phase != events.PhaseRunning {
			t.Errorf("%s/%s: phase %s, want Running", st.Namespace, st.Name, st.Phase)
		}
		if seen[st.Name] {
			t.Errorf("%s reported twice", st.Name)
		}
		seen[st.Name] = true
		if s.batch != "" {
			writes[s.batch] = true
		} else {
			writes[s.msgID] = true
		}
		want, err := node.StatusID("n1", st, "")
		if err != nil {
			t.Fatal(err)
		}
		if s.msgID != want || s.env.ID != want {
			t.Errorf("%s: Nats-Msg-Id %s, envelope id %s, want both %s", st.Name, s.msgID, s.env.ID, want)
		}
	}

	// Without group commit that is one write per pod; with it, the pods
	// that come up together share one.
	if len(writes) > 2 {
		t.Errorf("%d reports in %d writes: they are not gathered", n, len(writes))
	}
	if stored := ingestLog.count(`"message":"stored"`); withIngest != (stored > 0) {
		t.Errorf("the ingest made %d writes, want some only when it runs (%v)", stored, withIngest)
	}

	// A restarted agent adopts its pods and has nothing new to say.
	stop = start()
	reconciles(20)
	stop()
	if again := statuses(); len(again) != n {
		t.Fatalf("after a restart: %d status reports, want still %d", len(again), n)
	}
}
