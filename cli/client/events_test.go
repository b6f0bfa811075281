package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
)

func TestEventStreams(t *testing.T) {
	tests := map[string]string{
		"intents":      events.StreamIntents,
		"decisions":    events.StreamDecisions,
		"observations": events.StreamObservations,
		"all":          events.StreamIntents + "," + events.StreamDecisions + "," + events.StreamObservations,
	}
	for in, want := range tests {
		got, err := eventStreams(in)
		if err != nil || strings.Join(got, ",") != want {
			t.Errorf("eventStreams(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	if _, err := eventStreams("heartbeats"); err == nil {
		t.Error("heartbeats are not events to show")
	}
}

func TestEventLine(t *testing.T) {
	it := sealedRecord(t, &events.PodRemoved{Namespace: "default", Name: "web-1", Node: "node-1", Epoch: 2},
		"node/node-1", "default/web-1", fixtureT0)
	it.stream, it.seq, it.subject = events.StreamObservations, 42, "gantry.obs.node-1.pod.default.web-1"
	var out bytes.Buffer
	p := newEventPrinter(&out, io.Discard, false)
	p.print(it)
	it.env.Subject = "default/a-much-longer-name-than-the-columns-expect"
	p.print(it)
	it.env.Subject = "default/web-1"
	p.print(it)
	ts := fixtureT0.Local().Format(time.RFC3339)
	ts += strings.Repeat(" ", max(22, len(ts)+2)-len(ts))
	want := ts + "observations/42    node/node-1  PodRemoved         default/web-1                   removed from node-1 (epoch 2)\n" +
		ts + "observations/42    node/node-1  PodRemoved         default/a-much-longer-name-than-the-columns-expect  removed from node-1 (epoch 2)\n" +
		ts + "observations/42    node/node-1  PodRemoved         default/web-1                                       removed from node-1 (epoch 2)\n"
	if got := out.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestPrintEvent(t *testing.T) {
	it := sealedRecord(t, &events.IntentDeleted{Kind: "pod", Namespace: "default", Name: "job"}, "cli", "default/job", fixtureT0)
	var out, errOut bytes.Buffer
	newEventPrinter(&out, &errOut, true).print(it)
	if got := out.String(); got != string(it.data)+"\n" {
		t.Errorf("-o json must print the envelope unchanged:\n got %s\nwant %s", got, it.data)
	}
	out.Reset()
	newEventPrinter(&out, &errOut, false).print(logItem{stream: events.StreamIntents, seq: 3, subject: "gantry.intent.x", err: errors.New("decode envelope: bad")})
	if out.Len() != 0 || !strings.Contains(errOut.String(), "warning: intents/3 on gantry.intent.x: decode envelope: bad") {
		t.Errorf("an undecodable message is a warning: out %q, err %q", out.String(), errOut.String())
	}
}

// fakeTail is a tail fed from a slice, ending with a marker.
func fakeTail(stream string, items ...logItem) *logTail {
	t := &logTail{stream: stream, items: make(chan logItem, len(items)+1)}
	for _, it := range items {
		it.stream = stream
		t.items <- it
	}
	t.items <- logItem{stream: stream, marker: true}
	return t
}

func TestMergeInitialOrdersByTime(t *testing.T) {
	at := func(s int) logItem { return logItem{seq: uint64(s), at: fixtureT0.Add(time.Duration(s) * time.Second)} }
	intents := fakeTail("I", at(1), at(4))
	decisions := fakeTail("D", at(2), at(4), at(6))
	observations := fakeTail("O", at(3), at(5))
	silent := &logTail{stream: "S", items: make(chan logItem)}
	var got []string
	var errOut bytes.Buffer
	mergeInitial(context.Background(), []*logTail{intents, decisions, observations, silent}, 50*time.Millisecond,
		func(it logItem) { got = append(got, it.stream+string(rune('0'+it.seq))) }, &errOut)
	want := "I1 D2 O3 I4 D4 O5 D6"
	if strings.Join(got, " ") != want {
		t.Errorf("merged %v, want %s", got, want)
	}
	if !strings.Contains(errOut.String(), "warning: S: no message") {
		t.Errorf("a silent tail is given up on with a warning, got %q", errOut.String())
	}
}
