package runner_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/services/runner"
)

// decisionSubject is where the fake service answers an intent named name.
func decisionSubject(name string) string { return "gantry.decision.test." + name }

// copySubject is where a decision's copy goes; the fake never reads it.
func copySubject(name string) string { return "gantry.decision.copy." + name }

// contended is a subject someone else has already written to: a decision
// expecting it empty is refused.
const contended = "contended"

// fake is a tiny service: one decision per intent, until it sees that
// decision come back. Intents named "stale-*" are answered on the contended
// subject expecting it empty. With repeat > 0 it emits each decision that
// many times whether it saw it or not (a decider that repeats itself).
type fake struct {
	repeat  int             // emit each decision this many times regardless
	expect  bool            // put ExpectLastSeq 0 on each decision's own subject
	pairs   bool            // each decision comes with a partner in one atomic group
	copies  bool            // each decision is copied to copySubject(name)
	gate    chan struct{}   // when set, Decide stalls until it is closed once it has an intent
	sources []runner.Source // overrides Sources when set

	mu      sync.Mutex
	intents map[string]uint64 // name → intent seq
	seen    map[string]bool   // name → its decision is in the log
	emitted map[string]int    // name → times Decide returned its decision
	decides int               // Decide calls
}

func newFake() *fake {
	return &fake{intents: map[string]uint64{}, seen: map[string]bool{}, emitted: map[string]int{}}
}

func (f *fake) Name() string { return "fake" }

func (f *fake) Sources() []runner.Source {
	if f.sources != nil {
		return f.sources
	}
	return []runner.Source{
		{Stream: events.StreamIntents, Filters: []string{"gantry.intent.test.>"}},
		{Stream: events.StreamDecisions, Filters: []string{"gantry.decision.test.>"}},
	}
}

func (f *fake) Apply(r events.Record) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch e := r.Event.(type) {
	case *events.IntentApplied:
		f.intents[e.Name] = r.Seq
	case *events.AdmissionRejected:
		f.seen[e.Name] = true
	}
}

func (f *fake) Decide(time.Time) []runner.Decision {
	f.mu.Lock()
	stall := f.gate != nil && len(f.intents) > 0
	f.mu.Unlock()
	if stall {
		<-f.gate // stalls holding the intent it is about to decide
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.decides++
	names := make([]string, 0, len(f.intents))
	for n := range f.intents {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []runner.Decision
	for _, n := range names {
		if f.seen[n] && f.emitted[n] >= f.repeat {
			continue
		}
		seq := f.intents[n]
		d := runner.Decision{
			Subject: decisionSubject(n),
			Event:   &events.AdmissionRejected{IntentSeq: seq, Kind: "thing", Namespace: "test", Name: n, Reasons: []string{"test"}},
			MsgID:   fmt.Sprintf("test/%d", seq),
		}
		if f.expect {
			d.ExpectLastSeq = bus.Expect(0)
		}
		if f.pairs {
			// The decision is stored on its own subject; its partner carries the
			// stale expectation for "stale-*" intents, refusing both.
			partner := runner.Decision{
				Subject: decisionSubject(n + "-partner"),
				Event:   &events.AdmissionRejected{IntentSeq: seq, Kind: "thing", Namespace: "test", Name: n + "-partner", Reasons: []string{"test"}},
				MsgID:   fmt.Sprintf("test/%d/partner", seq),
				Atomic:  n,
			}
			if strings.HasPrefix(n, "stale-") {
				partner.Subject, partner.ExpectLastSeq = decisionSubject(contended), bus.Expect(0)
			}
			d.Atomic = n
			f.emitted[n]++
			out = append(out, d, partner)
			continue
		}
		if strings.HasPrefix(n, "stale-") {
			d.Subject, d.ExpectLastSeq = decisionSubject(contended), bus.Expect(0)
		}
		if f.copies {
			d.CopyTo = []string{copySubject(n)}
		}
		f.emitted[n]++
		out = append(out, d)
	}
	return out
}

func (f *fake) snapshot() (emitted map[string]int, decides int, intents int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int, len(f.emitted))
	for k, v := range f.emitted {
		out[k] = v
	}
	return out, f.decides, len(f.intents)
}

// logBuf collects a runner's log lines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type harness struct {
	t    *testing.T
	conn *bus.Conn
	logs *logBuf
}

func start(t *testing.T) *harness {
	t.Helper()
	conn, _ := bustest.Start(t)
	return &harness{t: t, conn: conn, logs: &logBuf{}}
}

// run starts a runner for svc; stop cancels it and waits until Run returns.
func (h *harness) run(svc runner.Service) (r *runner.Runner, stop func()) {
	return h.runAs(svc, "")
}

// runAs starts a runner that elects under the instance name (none: always acts).
func (h *harness) runAs(svc runner.Service, instance string) (r *runner.Runner, stop func()) {
	h.t.Helper()
	log := zerolog.New(h.logs).Level(zerolog.DebugLevel)
	r = runner.New(svc, h.conn.JS, log, runner.Config{Resync: 10 * time.Millisecond, Instance: instance})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					h.t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				h.t.Error("Run did not return after its context ended")
			}
		})
	}
	h.t.Cleanup(stop)
	select {
	case <-r.Ready():
	case err := <-done:
		h.t.Fatalf("Run ended before ready: %v", err)
	case <-time.After(10 * time.Second):
		h.t.Fatal("runner not ready")
	}
	return r, stop
}

// intent appends an intent named name the way the CLI does.
func (h *harness) intent(name string) uint64 {
	h.t.Helper()
	id := events.NewID()
	subj := events.IntentSubject("test", "thing", name)
	env, err := events.Seal(&events.IntentApplied{Kind: "thing", Namespace: "test", Name: name, Object: []byte(`{}`)},
		events.Meta{ID: id, Source: "test", Time: time.Now()})
	if err != nil {
		h.t.Fatal(err)
	}
	res, err := bus.PublishOne(context.Background(), h.conn.JS, bus.Outgoing{Subject: subj, Envelope: env, MsgID: id})
	if err != nil {
		h.t.Fatal(err)
	}
	return res.Seq
}

// contend writes on the contended subject as another writer would, so a
// decision expecting it empty is refused.
func (h *harness) contend() {
	h.t.Helper()
	env, err := events.Seal(&events.AdmissionRejected{Kind: "thing", Namespace: "test", Name: "someone-else", Reasons: []string{"first"}},
		events.Meta{ID: events.NewID(), Source: "other", Time: time.Now()})
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := bus.PublishOne(context.Background(), h.conn.JS, bus.Outgoing{Subject: decisionSubject(contended), Envelope: env}); err != nil {
		h.t.Fatal(err)
	}
}

// stored counts the messages on each decision subject of the fake.
func (h *harness) stored() map[string]uint64 {
	h.t.Helper()
	out := map[string]uint64{}
	for s, n := range h.storedOn("gantry.decision.test.>") {
		out[strings.TrimPrefix(s, "gantry.decision.test.")] = n
	}
	return out
}

// storedOn counts the messages on each subject matching filter.
func (h *harness) storedOn(filter string) map[string]uint64 {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := h.conn.JS.Stream(ctx, events.StreamDecisions)
	if err != nil {
		h.t.Fatal(err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		h.t.Fatal(err)
	}
	return info.State.Subjects
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// (a) A decision is stored once: the runner does not call Decide again
// before it has seen its own decisions (expectations), and a decision that
// is published again anyway is dropped by the log (message id).
func TestADecisionIsStoredOnce(t *testing.T) {
	t.Run("expectations: Decide is not asked again before the decision is seen", func(t *testing.T) {
		h := start(t)
		f := newFake()
		h.run(f)
		for _, n := range []string{"a", "b", "c"} {
			h.intent(n)
		}
		eventually(t, "three decisions stored", func() bool { return len(h.stored()) == 3 })
		_, decides, _ := f.snapshot()
		// Let Decide run many more times (resync ticks), then check.
		eventually(t, "more Decide passes", func() bool { _, d, _ := f.snapshot(); return d >= decides+10 })
		emitted, _, _ := f.snapshot()
		for _, n := range []string{"a", "b", "c"} {
			if emitted[n] != 1 {
				t.Errorf("decision for %s emitted %d times, want once", n, emitted[n])
			}
		}
		for s, n := range h.stored() {
			if n != 1 {
				t.Errorf("%s stored %d times", s, n)
			}
		}
	})
	for _, expect := range []bool{false, true} {
		t.Run(fmt.Sprintf("a decider that repeats itself: message id, expectation=%v", expect), func(t *testing.T) {
			h := start(t)
			f := newFake()
			f.repeat, f.expect = 3, expect
			h.run(f)
			for _, n := range []string{"a", "b"} {
				h.intent(n)
			}
			eventually(t, "every decision emitted three times", func() bool {
				e, _, _ := f.snapshot()
				return e["a"] >= 3 && e["b"] >= 3
			})
			got := h.stored()
			if len(got) != 2 || got["a"] != 1 || got["b"] != 1 {
				t.Errorf("stored = %v, want a and b once each", got)
			}
		})
	}
}

// (b) A restarted runner replays the log and decides nothing it decided
// before.
func TestRestartReplaysAndDecidesNothingNew(t *testing.T) {
	h := start(t)
	first := newFake()
	_, stop := h.run(first)
	for _, n := range []string{"a", "b", "c"} {
		h.intent(n)
	}
	eventually(t, "three decisions stored", func() bool { return len(h.stored()) == 3 })
	stop()

	second := newFake()
	h.run(second) // returns once ready: the log replayed up to where it stood
	_, _, intents := second.snapshot()
	if intents != 3 {
		t.Fatalf("replayed %d intents before ready, want 3", intents)
	}
	// A new intent proves the runner is live; by its decision every older
	// record has been applied and Decide has run.
	h.intent("d")
	eventually(t, "decision for d", func() bool { return h.stored()["d"] == 1 })
	emitted, decides, _ := second.snapshot()
	if len(emitted) != 1 || emitted["d"] != 1 {
		t.Errorf("after restart the runner emitted %v, want only d once (Decide ran %d times)", emitted, decides)
	}
	got := h.stored()
	for _, n := range []string{"a", "b", "c", "d"} {
		if got[n] != 1 {
			t.Errorf("%s stored %d times", n, got[n])
		}
	}
}

// (c) A decision with a stale ExpectLastSeq is refused by the log
// (bus.ErrConflict); the runner logs it, decides again later, and keeps
// serving everything else.
func TestAStaleExpectationIsRefusedAndTheRunnerKeepsGoing(t *testing.T) {
	h := start(t)
	// Someone else wrote on the contended subject first.
	h.contend()
	f := newFake()
	h.run(f)
	h.intent("stale-1")
	eventually(t, "the stale decision tried three times", func() bool { e, _, _ := f.snapshot(); return e["stale-1"] >= 3 })
	if !strings.Contains(h.logs.String(), "decision lost a race") {
		t.Errorf("no conflict logged; logs:\n%s", h.logs.String())
	}
	if strings.Contains(h.logs.String(), "decision not stored") {
		t.Errorf("the conflict was not classified as bus.ErrConflict; logs:\n%s", h.logs.String())
	}
	h.intent("after")
	eventually(t, "a later decision stored", func() bool { return h.stored()["after"] == 1 })
	if got := h.stored()[contended]; got != 1 {
		t.Errorf("contended subject holds %d messages, want only the other writer's", got)
	}
}

// A stream whose messages have all aged out (GANTRY_OBSERVATIONS keeps 7
// days) still reports its last sequence, but no message is there to
// deliver it. A runner following such a stream unfiltered (the projector
// follows the observations stream so) must still become ready; otherwise a
// control plane restarted after a quiet week never decides and
// `gantry serve` times out in WaitReady.
func TestReadyWhenEveryMessageOfASourceHasExpired(t *testing.T) {
	h := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const stream = "GANTRY_TEST_EXPIRING"
	st, err := h.conn.JS.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{"test.expiring.>"},
		Storage: jetstream.FileStorage, MaxAge: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	env, err := events.Seal(&events.IntentApplied{Kind: "thing", Namespace: "test", Name: "old", Object: []byte(`{}`)},
		events.Meta{ID: events.NewID(), Source: "test", Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.PublishOne(ctx, h.conn.JS, bus.Outgoing{Subject: "test.expiring.x", Envelope: env}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the message to expire", func() bool {
		info, err := st.Info(ctx)
		return err == nil && info.State.Msgs == 0
	})
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last, err := bus.LastSeq(ctx, h.conn.JS, stream)
	if err != nil {
		t.Fatal(err)
	}
	if last != 0 {
		t.Errorf("bus.LastSeq on a stream with no messages = %d (state: %d msgs, last seq %d), want 0 as documented",
			last, info.State.Msgs, info.State.LastSeq)
	}

	f := newFake()
	f.sources = []runner.Source{{Stream: stream}}
	r := runner.New(f, h.conn.JS, zerolog.New(h.logs), runner.Config{Resync: 10 * time.Millisecond})
	rctx, rcancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	defer func() { rcancel(); <-done }()
	select {
	case <-r.Ready():
	case err := <-done:
		t.Fatalf("Run ended: %v", err)
	case <-time.After(3 * time.Second):
		t.Fatalf("runner not ready after 3s: it waits for sequence %d of %s, which expired", info.State.LastSeq, stream)
	}
}

// Decisions in one atomic group are stored together or not at all: a stale
// expectation on one refuses its partner too.
func TestAnAtomicGroupIsStoredWholeOrNotAtAll(t *testing.T) {
	h := start(t)
	h.contend()
	f := newFake()
	f.pairs = true
	h.run(f)
	h.intent("stale-1")
	h.intent("ok")
	eventually(t, "the good pair stored", func() bool { s := h.stored(); return s["ok"] == 1 && s["ok-partner"] == 1 })
	eventually(t, "the stale pair tried three times", func() bool { e, _, _ := f.snapshot(); return e["stale-1"] >= 3 })
	s := h.stored()
	if s["stale-1"] != 0 || s[contended] != 1 {
		t.Errorf("stale group partly stored: %v", s)
	}
}

// Of two instances of a service, only the lease holder decides; when it
// stops, the standby (warm, already caught up) takes over.
func TestOnlyTheLeaseHolderActs(t *testing.T) {
	h := start(t)
	a, b := newFake(), newFake()
	ra, stopA := h.runAs(a, "instance-a")
	rb, stopB := h.runAs(b, "instance-b")
	defer stopB()
	eventually(t, "one leader", func() bool { return ra.Leading() != rb.Leading() })
	leader, standby, stopLeader := a, b, stopA
	if rb.Leading() {
		leader, standby, stopLeader = b, a, stopB
	}
	h.intent("one")
	eventually(t, "the leader decided", func() bool { return h.stored()["one"] == 1 })
	if e, _, _ := standby.snapshot(); len(e) != 0 {
		t.Fatalf("the standby decided too: %v", e)
	}
	if _, _, n := standby.snapshot(); n != 1 {
		t.Fatalf("the standby did not follow the log: %d intents", n)
	}
	stopLeader()
	h.intent("two")
	eventually(t, "the standby took over", func() bool { return h.stored()["two"] == 1 })
	if e, _, _ := leader.snapshot(); e["two"] != 0 {
		t.Fatalf("the stopped leader decided after stopping")
	}
	if e, _, _ := standby.snapshot(); e["one"] != 0 {
		t.Errorf("the new leader decided again what was decided: %v", e)
	}
}

// A leader that stalls in the middle of deciding loses its lease; when it
// wakes, what it decided from its stale view is refused by the log (its
// expectations no longer hold, its message ids are already stored).
func TestAStalledLeaderWritesNothingTwice(t *testing.T) {
	h := start(t)
	a := newFake()
	a.expect = true
	a.gate = make(chan struct{})
	ra, stopA := h.runAs(a, "instance-a")
	defer stopA()
	eventually(t, "a leads", func() bool { return ra.Leading() })
	h.intent("contested") // a's Decide now blocks: a stall with the lease held
	b := newFake()
	b.expect = true
	rb, stopB := h.runAs(b, "instance-b")
	defer stopB()
	eventually(t, "b takes over after the lease expires", func() bool { return rb.Leading() })
	eventually(t, "b decided", func() bool { return h.stored()["contested"] == 1 })
	close(a.gate) // a wakes and publishes what it decided before the stall
	eventually(t, "a tried", func() bool { e, _, _ := a.snapshot(); return e["contested"] >= 1 })
	eventually(t, "a stood down", func() bool { return !ra.Leading() })
	if got := h.stored()["contested"]; got != 1 {
		t.Fatalf("contested decision stored %d times", got)
	}
}

// One Decide's decisions go to the log in atomic batches. A stale one among
// them refuses its batch; the runner halves the batch until the stale one
// stands alone, so every other decision is stored once, and the stale one
// (with its copy) not at all. Copies are stored with their decisions, and
// the runner does not wait for copies it never reads.
func TestAStaleDecisionInABatchCostsOnlyItself(t *testing.T) {
	h := start(t)
	h.contend()
	var names []string
	for i := range 40 {
		n := fmt.Sprintf("d%02d", i)
		if i == 23 {
			n = "stale-1"
		}
		names = append(names, n)
		h.intent(n) // before the runner starts: one Decide sees them all
	}
	f := newFake()
	f.copies = true
	h.run(f)
	eventually(t, "39 decisions stored", func() bool { return len(h.stored()) == 39+1 }) // + contended
	eventually(t, "the stale decision tried again", func() bool { e, _, _ := f.snapshot(); return e["stale-1"] >= 2 })
	s := h.stored()
	copies := h.storedOn("gantry.decision.copy.>")
	for _, n := range names {
		if n == "stale-1" {
			if s[n] != 0 || copies["gantry.decision.copy."+n] != 0 {
				t.Errorf("the stale decision or its copy was stored: %v", copies)
			}
			continue
		}
		if s[n] != 1 || copies["gantry.decision.copy."+n] != 1 {
			t.Errorf("%s stored %d times, its copy %d times; want once each", n, s[n], copies["gantry.decision.copy."+n])
		}
	}
	if s[contended] != 1 {
		t.Errorf("contended subject holds %d messages, want only the other writer's", s[contended])
	}
	if strings.Contains(h.logs.String(), "not seen in time") {
		t.Errorf("the runner waited for copies it never reads:\n%s", h.logs.String())
	}
}

// assumer is the fake as a service that assumes its decisions (as the
// scheduler assumes its bindings): it does not decide again what it has
// assumed, until the runner hands it back as not stored.
type assumer struct {
	*fake
	amu     sync.Mutex
	assumed map[string]bool
	forgot  map[string]int
}

func (a *assumer) Decide(now time.Time) []runner.Decision {
	ds := a.fake.Decide(now)
	a.amu.Lock()
	defer a.amu.Unlock()
	var out []runner.Decision
	for _, d := range ds {
		if !a.assumed[d.Event.(*events.AdmissionRejected).Name] {
			d.Assumed = true
			out = append(out, d)
		}
	}
	return out
}

func (a *assumer) Assume(ds []runner.Decision) {
	a.amu.Lock()
	defer a.amu.Unlock()
	for _, d := range ds {
		if d.Assumed {
			a.assumed[d.Event.(*events.AdmissionRejected).Name] = true
		}
	}
}

func (a *assumer) Forget(d runner.Decision) {
	a.amu.Lock()
	defer a.amu.Unlock()
	n := d.Event.(*events.AdmissionRejected).Name
	delete(a.assumed, n)
	a.forgot[n]++
}

func (a *assumer) forgotten() map[string]int {
	a.amu.Lock()
	defer a.amu.Unlock()
	return maps.Clone(a.forgot)
}

// Assumed decisions: the runner hands each pass to the service as it starts
// storing it, and gives back exactly the decisions the log refused, which
// the service then decides again; the stored ones are never given back and
// stored once.
func TestRefusedAssumedDecisionsAreForgotten(t *testing.T) {
	h := start(t)
	h.contend()
	a := &assumer{fake: newFake(), assumed: map[string]bool{}, forgot: map[string]int{}}
	h.run(a)
	for _, n := range []string{"a", "stale-1", "b"} {
		h.intent(n)
	}
	eventually(t, "the refused decision given back twice", func() bool { return a.forgotten()["stale-1"] >= 2 })
	eventually(t, "a and b stored", func() bool { s := h.stored(); return s["a"] == 1 && s["b"] == 1 })
	if f := a.forgotten(); f["a"] != 0 || f["b"] != 0 {
		t.Errorf("stored decisions given back: %v", f)
	}
	if s := h.stored(); s["a"] != 1 || s["b"] != 1 || s[contended] != 1 {
		t.Errorf("stored %v, want a and b once and the contended subject untouched", s)
	}
}
