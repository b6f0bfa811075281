package runner_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/services/runner"
)

// recorder is a service that decides nothing and notes every record it is
// given (stream/subject), and whether two runners were handed one event.
type recorder struct {
	name    string
	sources []runner.Source
	mu      sync.Mutex
	got     []string
	events  map[string]events.Event // stream/seq → the event it was given
}

func newRecorder(name string, sources ...runner.Source) *recorder {
	return &recorder{name: name, sources: sources, events: map[string]events.Event{}}
}

func (r *recorder) Name() string                       { return r.name }
func (r *recorder) Sources() []runner.Source           { return r.sources }
func (r *recorder) Decide(time.Time) []runner.Decision { return nil }
func (r *recorder) Apply(rec events.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, rec.Stream+"/"+rec.Subject)
	r.events[fmt.Sprintf("%s/%d", rec.Stream, rec.Seq)] = rec.Event
}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// Runners on one feed get exactly the records their own consumers would
// give them, in the same order, from one decoding; a deciding runner on the
// feed still sees its own decisions come back (expectations); an
// undecodable message is skipped by each; a runner made after the feed
// started refuses to run.
func TestRunnersOnAFeedReadWhatTheirOwnConsumersWould(t *testing.T) {
	h := start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := zerolog.New(h.logs)
	cfg := runner.Config{Resync: 10 * time.Millisecond}

	sources := map[string][]runner.Source{
		"everything": {{Stream: events.StreamIntents}, {Stream: events.StreamDecisions}},
		"decisions":  {{Stream: events.StreamDecisions, Filters: []string{"gantry.decision.test.>"}}},
		"two-filters": {{Stream: events.StreamIntents, Filters: []string{"gantry.intent.other.>"}},
			{Stream: events.StreamDecisions, Filters: []string{"gantry.decision.test.>", "gantry.decision.copy.>"}}},
	}
	// Each reader twice: on the feed, and alone with its own consumers.
	feed := runner.NewFeed(h.conn.JS, log)
	fcfg := cfg
	fcfg.Feed = feed
	var onFeed, alone []*recorder
	var runners []*runner.Runner
	for _, name := range []string{"everything", "decisions", "two-filters"} {
		a, b := newRecorder(name, sources[name]...), newRecorder(name, sources[name]...)
		onFeed, alone = append(onFeed, a), append(alone, b)
		runners = append(runners, runner.New(a, h.conn.JS, log, fcfg), runner.New(b, h.conn.JS, log, cfg))
	}
	f := newFake()
	f.copies = true
	runners = append(runners, runner.New(f, h.conn.JS, log, fcfg))
	if err := feed.Start(ctx); err != nil {
		t.Fatal(err)
	}
	late := runner.New(newRecorder("late", sources["everything"]...), h.conn.JS, log, fcfg)
	if err := late.Run(ctx); err == nil {
		t.Error("a runner that joined after the feed started ran")
	}
	for _, r := range runners {
		go func() {
			if err := r.Run(ctx); err != nil {
				t.Errorf("Run: %v", err)
			}
		}()
	}

	for _, n := range []string{"a", "b", "c"} {
		h.intent(n)
	}
	if _, err := h.conn.JS.Publish(ctx, "gantry.decision.test.garbage", []byte("not an envelope")); err != nil {
		t.Fatal(err)
	}
	if err := h.conn.NC.PublishMsg(&nats.Msg{Subject: "gantry.intent.other.thing.x", Data: []byte("{")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "three decisions stored", func() bool { return len(h.stored()) == 4 })
	// What decodes: the three intents, the fake's three decisions and their
	// copies; the two undecodable messages are skipped.
	want := map[string]int{"everything": 9, "decisions": 3, "two-filters": 6}
	for i, r := range onFeed {
		eventually(t, r.name+" read everything", func() bool {
			return len(r.seen()) == want[r.name] && len(alone[i].seen()) == want[r.name]
		})
		if got, own := r.seen(), alone[i].seen(); !slices.Equal(got, own) {
			t.Errorf("%s on the feed read\n%v\nalone it reads\n%v", r.name, got, own)
		}
	}
	emitted, _, _ := f.snapshot()
	for n, times := range emitted {
		if times != 1 {
			t.Errorf("the fake on the feed decided %s %d times", n, times)
		}
	}
	// One decoding: the feed hands the same event to every reader.
	for key, ev := range onFeed[0].events {
		if other, ok := onFeed[1].events[key]; ok && other != ev {
			t.Errorf("%s decoded twice", key)
		}
	}
}
