package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/services/ingest"
)

// start runs an ingest on a fresh log until the test ends.
func start(t *testing.T, cfg ingest.Config) *bus.Conn {
	t.Helper()
	conn, _ := bustest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	g, err := ingest.Start(ctx, conn, cfg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-g.Done() })
	return conn
}

// report is the removal report of pod i on a node, as an agent makes it.
func report(t *testing.T, node string, i int) bus.Outgoing {
	t.Helper()
	name := fmt.Sprintf("web-%d", i)
	id := events.DeriveID(fmt.Sprintf("removed/%s/%d", node, i))
	env, err := events.Seal(&events.PodRemoved{Namespace: "default", Name: name, UID: fmt.Sprint("uid-", i), Node: node, Epoch: 1},
		events.Meta{ID: id, Source: "node/" + node, Subject: "default/" + name, Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return bus.Outgoing{Subject: events.ObsPodSubject(node, "default", name), Envelope: env, MsgID: id}
}

func reports(t *testing.T, node string, from, n int) []bus.Outgoing {
	out := make([]bus.Outgoing, n)
	for i := range out {
		out[i] = report(t, node, from+i)
	}
	return out
}

// observations is the observations stream.
func observations(t *testing.T, js jetstream.JetStream) jetstream.Stream {
	t.Helper()
	st, err := js.Stream(context.Background(), events.StreamObservations)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// storedMsg is what the stream holds at one sequence.
func storedMsg(t *testing.T, js jetstream.JetStream, seq uint64) *jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := observations(t, js).GetMsg(ctx, seq)
	if err != nil {
		t.Fatalf("message %d: %v", seq, err)
	}
	return m
}

func count(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := observations(t, js).Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// Many nodes handing over their reports at once: each report is stored
// once, each node learns where, and the writes are shared (the stored
// messages carry the atomic batch that wrote them).
func TestManyNodesShareWrites(t *testing.T) {
	const nodes, each = 60, 20
	conn := start(t, ingest.Config{Writers: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	results := make([][]bus.Result, nodes)
	outs := make([][]bus.Outgoing, nodes)
	errs := make([]error, nodes)
	for n := range nodes {
		outs[n] = reports(t, fmt.Sprint("n", n), 0, each)
	}
	for n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[n], errs[n] = bus.Ingest(ctx, conn.NC, events.IngestSubject(fmt.Sprint("n", n)), outs[n])
		}()
	}
	wg.Wait()
	batches := map[string]bool{}
	for n := range nodes {
		if errs[n] != nil {
			t.Fatalf("node %d: %v", n, errs[n])
		}
		for i, r := range results[n] {
			if r.Err != nil || r.Seq == 0 || r.Duplicate {
				t.Fatalf("node %d report %d: %+v, want stored", n, i, r)
			}
			m := storedMsg(t, conn.JS, r.Seq)
			if m.Subject != outs[n][i].Subject || m.Header.Get(events.HeaderMsgID) != outs[n][i].MsgID {
				t.Fatalf("node %d report %d: seq %d holds %s %s, want %s %s", n, i, r.Seq,
					m.Subject, m.Header.Get(events.HeaderMsgID), outs[n][i].Subject, outs[n][i].MsgID)
			}
			batches[m.Header.Get("Nats-Batch-Id")] = true
		}
	}
	if got := count(t, conn.JS); got != nodes*each {
		t.Errorf("%d messages stored, want %d", got, nodes*each)
	}
	if batches[""] {
		t.Errorf("some reports were stored one by one")
	}
	// 60 requests, 2 writers: while the first writes are in flight the
	// others gather, so far fewer writes than requests.
	if len(batches) >= nodes {
		t.Errorf("%d requests in %d writes: nothing was shared", nodes, len(batches))
	}
}

// A report already stored (an attempt whose answer was lost) refuses the
// atomic batch; the ingest stores its messages one by one, and each
// report is stored once: the old one is reported as a duplicate at its
// first sequence. A report handed over twice is stored once too.
func TestStoredReportsAreNotStoredTwice(t *testing.T) {
	conn := start(t, ingest.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out := reports(t, "n1", 0, 30)
	first, err := bus.PublishOne(ctx, conn.JS, out[7])
	if err != nil {
		t.Fatal(err)
	}
	res, err := bus.Ingest(ctx, conn.NC, events.IngestSubject("n1"), out)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil || r.Seq == 0 {
			t.Fatalf("report %d: %+v, want stored", i, r)
		}
		if want := i == 7; r.Duplicate != want {
			t.Errorf("report %d: duplicate %v, want %v", i, r.Duplicate, want)
		}
	}
	if res[7].Seq != first.Seq {
		t.Errorf("the stored report: seq %d, want its first %d", res[7].Seq, first.Seq)
	}
	// Once more, whole: every report is a duplicate.
	res, err = bus.Ingest(ctx, conn.NC, events.IngestSubject("n1"), out)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil || !r.Duplicate {
			t.Errorf("report %d handed over again: %+v, want a duplicate", i, r)
		}
	}
	if got := count(t, conn.JS); got != 30 {
		t.Errorf("%d messages stored, want 30", got)
	}

	// Handed over twice in one write (an agent's retry gathered with its
	// first attempt): written once, in one atomic batch, both told where.
	twice := reports(t, "n1", 100, 20)
	twice[5] = twice[3]
	res, err = bus.Ingest(ctx, conn.NC, events.IngestSubject("n1"), twice)
	if err != nil {
		t.Fatal(err)
	}
	if res[5] != res[3] || res[3].Seq == 0 || res[3].Duplicate {
		t.Errorf("one report twice in a request: %+v and %+v, want one stored message", res[3], res[5])
	}
	for i, r := range res {
		if m := storedMsg(t, conn.JS, r.Seq); m.Header.Get("Nats-Batch-Id") == "" || m.Header.Get(events.HeaderMsgID) != twice[i].MsgID {
			t.Errorf("report %d: stored %s outside an atomic batch, want %s in one", i, m.Header.Get(events.HeaderMsgID), twice[i].MsgID)
		}
	}
	if got := count(t, conn.JS); got != 30+19 {
		t.Errorf("%d messages stored, want %d", got, 30+19)
	}
}

// A node stores through the ingest only on its own subjects, and a request
// the ingest cannot read, or cannot take, is refused whole with the reason.
func TestBadRequestsAreRefused(t *testing.T) {
	conn := start(t, ingest.Config{Backlog: 40})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	other := reports(t, "n1", 0, 3)
	other[1] = report(t, "n2", 1)
	decision := reports(t, "n1", 10, 1)
	decision[0].Subject = events.PodDecisionSubject("default", "web-10")
	for _, c := range []struct {
		name string
		out  []bus.Outgoing
		want string
	}{
		{"another node's subject", other, `message 2: subject "gantry.obs.n2.pod.default.web-1" is not under gantry.obs.n1.>`},
		{"a decision", decision, `is not under gantry.obs.n1.>`},
		{"more than the backlog", reports(t, "n1", 20, 41), "ingest busy"},
	} {
		_, err := bus.Ingest(ctx, conn.NC, events.IngestSubject("n1"), c.out)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"not a request", []byte("hello"), "not version 1"},
		{"cut short", []byte{bus.IngestVersion, 2, 1, 'x'}, "message 1 is cut short"},
	} {
		m, err := conn.NC.RequestWithContext(ctx, events.IngestSubject("n1"), c.data)
		if err != nil {
			t.Fatal(err)
		}
		var rep bus.IngestReply
		if err := events.Unmarshal(m.Data, &rep); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(rep.Error, c.want) || rep.Results != nil {
			t.Errorf("%s: %+v, want an error with %q", c.name, rep, c.want)
		}
	}
	if got := count(t, conn.JS); got != 0 {
		t.Errorf("%d messages stored, want none", got)
	}
}

// With no ingest running, a writer is told so at once and stores its
// messages itself.
func TestNoIngestIsToldAtOnce(t *testing.T) {
	conn, _ := bustest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := bus.Ingest(ctx, conn.NC, events.IngestSubject("n1"), reports(t, "n1", 0, 1))
	if !errors.Is(err, bus.ErrNoIngest) {
		t.Fatalf("no ingest: %v, want bus.ErrNoIngest", err)
	}
	// A stopped ingest leaves the subject.
	ictx, stop := context.WithCancel(context.Background())
	g, err := ingest.Start(ictx, conn, ingest.Config{}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Ingest(ctx, conn.NC, events.IngestSubject("n1"), reports(t, "n1", 0, 1)); err != nil {
		t.Fatalf("with an ingest: %v", err)
	}
	stop()
	<-g.Done()
	if err := conn.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	_, err = bus.Ingest(ctx, conn.NC, events.IngestSubject("n1"), reports(t, "n1", 1, 1))
	if !errors.Is(err, bus.ErrNoIngest) {
		t.Fatalf("after the ingest stopped: %v, want bus.ErrNoIngest", err)
	}
}

// Ingests stopped and started again at random points while 20 nodes hand
// over their reports, each node trying again (same ids) until it is told
// its reports are stored: in the end every report is stored exactly once.
// A stop cancels the batch being stored; whether or not the log took it,
// the retry is harmless.
func TestRestartedIngestsLoseAndDuplicateNothing(t *testing.T) {
	const nodes, rounds, each = 20, 10, 25
	conn, _ := bustest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var mu sync.Mutex
	var stop context.CancelFunc
	var running *ingest.Ingest
	restart := func() {
		mu.Lock()
		defer mu.Unlock()
		if stop != nil {
			stop()
			<-running.Done()
		}
		var ictx context.Context
		ictx, stop = context.WithCancel(ctx)
		g, err := ingest.Start(ictx, conn, ingest.Config{Writers: 2}, zerolog.Nop())
		if err != nil {
			t.Error(err)
			return
		}
		running = g
	}
	restart()
	var wg sync.WaitGroup
	var tries [nodes]int
	for n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := fmt.Sprint("n", n)
			for r := range rounds {
				out := reports(t, node, r*each, each)
				for {
					tries[n]++
					res, err := bus.Ingest(ctx, conn.NC, events.IngestSubject(node), out)
					if ctx.Err() != nil {
						t.Errorf("node %d round %d: not stored in time: %v", n, r, err)
						return
					}
					if err == nil && !slices.ContainsFunc(res, func(r bus.Result) bool { return r.Err != nil || r.Seq == 0 }) {
						break
					}
					time.Sleep(5 * time.Millisecond) // back off; an ingest is starting
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for range 5 {
		select {
		case <-done:
		case <-time.After(time.Duration(10+rand.IntN(40)) * time.Millisecond):
			restart()
		}
	}
	<-done
	mu.Lock()
	stop()
	mu.Unlock()
	total := 0
	for _, n := range tries {
		total += n
	}
	t.Logf("%d requests for %d", total, nodes*rounds)

	// Each report has a subject of its own.
	info, err := observations(t, conn.JS).Info(context.Background(), jetstream.WithSubjectFilter(events.SubjectObsAll))
	if err != nil {
		t.Fatal(err)
	}
	for n := range nodes {
		for _, o := range reports(t, fmt.Sprint("n", n), 0, rounds*each) {
			if got := info.State.Subjects[o.Subject]; got != 1 {
				t.Errorf("%s stored %d times, want once", o.Subject, got)
			}
		}
	}
	if got := count(t, conn.JS); got != nodes*rounds*each {
		t.Errorf("%d messages stored, want %d", got, nodes*rounds*each)
	}
}
