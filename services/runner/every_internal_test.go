package runner

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
)

// countingService counts what it is given, by subject.
type countingService struct {
	sources []Source
	applied []string
}

func (s *countingService) Name() string                { return "counting" }
func (s *countingService) Sources() []Source           { return s.sources }
func (s *countingService) Apply(r events.Record)       { s.applied = append(s.applied, r.Subject) }
func (s *countingService) Decide(time.Time) []Decision { return nil }

// Given a source thinned to one message per subject per 5 s of envelope
// time, and node heartbeats every second, expect each node's first, then
// one each 5 s; every sequence counts as applied; another stream is not
// thinned.
func TestASourceThinnedEvery(t *testing.T) {
	svc := &countingService{sources: []Source{{Stream: "HB", Every: 5 * time.Second}, {Stream: "D"}}}
	r := New(svc, nil, zerolog.Nop(), Config{})
	t0 := time.Unix(1_000_000, 0)
	seq := uint64(0)
	msg := func(stream, subject string, at time.Time) {
		seq++
		r.handle(incoming{stream: stream, seq: seq, rec: events.Record{Stream: stream, Subject: subject, Seq: seq,
			Envelope: events.Envelope{Time: at}}})
	}
	for s := 0; s <= 11; s++ {
		msg("HB", "hb.a", t0.Add(time.Duration(s)*time.Second))
		msg("HB", "hb.b", t0.Add(time.Duration(s)*time.Second+300*time.Millisecond))
		msg("D", "d", t0.Add(time.Duration(s)*time.Second))
	}
	count := map[string]int{}
	for _, s := range svc.applied {
		count[s]++
	}
	if got := fmt.Sprint(count); got != "map[d:12 hb.a:3 hb.b:3]" {
		t.Errorf("applied %s, want every d, and hb.a and hb.b at 0 s, 5 s and 10 s", got)
	}
	if r.applied["HB"] != seq-1 || r.applied["D"] != seq {
		t.Errorf("applied sequences %v, want the last of each stream (%d, %d)", r.applied, seq-1, seq)
	}
}

// wakingService asks to decide at wakeAt and records when it decided.
type wakingService struct {
	countingService
	wakeAt  time.Time
	decided chan time.Time
}

func (s *wakingService) NextWake() time.Time { return s.wakeAt }
func (s *wakingService) Decide(now time.Time) []Decision {
	select {
	case s.decided <- now:
	default:
	}
	return nil
}

// Given a service that wants to decide 300 ms from now and a Resync of a
// minute, expect it to decide then, not at the next tick.
func TestAWakerDecidesWhenItAsks(t *testing.T) {
	svc := &wakingService{wakeAt: time.Now().Add(300 * time.Millisecond), decided: make(chan time.Time, 16)}
	r := New(svc, nil, zerolog.Nop(), Config{Resync: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.Run(ctx) }()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case at := <-svc.decided:
			if !at.Before(svc.wakeAt) {
				return // decided at its wake-up
			}
		case <-deadline:
			t.Fatal("no Decide at the service's wake-up within 10 s (Resync is a minute)")
		}
	}
}
