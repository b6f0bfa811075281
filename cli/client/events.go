package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
)

// logIdle bounds how long reading what a stream held at start may wait for
// its next message (one that was deleted meanwhile never comes).
const logIdle = 5 * time.Second

type eventsOptions struct {
	follow bool
	output string
	since  time.Duration
	stream string
	actor  string
}

func newEventsCmd(g *Globals) *cobra.Command {
	var o eventsOptions
	c := &cobra.Command{
		Use:   "events",
		Short: "Show the log: intents, decisions and observations, oldest first",
		Long: "Show the event log, one line per event, merging the intents, decisions and observations\n" +
			"streams by event time. Without --follow it stops at the newest event present when it started.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			streams, err := eventStreams(o.stream)
			if err != nil {
				return err
			}
			if o.output != "" && o.output != "json" {
				return fmt.Errorf("--output %q: want json or nothing", o.output)
			}
			if o.since < 0 {
				return fmt.Errorf("--since %s: must not be negative", o.since)
			}
			return g.WithCluster(cmd, "events", func(ctx context.Context, conn *bus.Conn) error {
				return runEvents(ctx, conn.JS, streams, o, g.Out, g.ErrOut)
			})
		},
	}
	c.Flags().BoolVarP(&o.follow, "follow", "f", false, "keep printing new events until interrupted")
	c.Flags().StringVarP(&o.output, "output", "o", "", "output format: json (each CloudEvents envelope as one line)")
	c.Flags().DurationVar(&o.since, "since", 0, "only events newer than this (e.g. 10m, 2h)")
	c.Flags().StringVar(&o.stream, "stream", "all", "which stream: intents, decisions, observations or all")
	c.Flags().StringVar(&o.actor, "actor", "", "only events of this actor (a verdict's actor is the intent's verified signer)")
	return c
}

// eventStreams maps --stream to stream names, in causal order.
func eventStreams(s string) ([]string, error) {
	switch strings.ToLower(s) {
	case "intents", "intent":
		return []string{events.StreamIntents}, nil
	case "decisions", "decision":
		return []string{events.StreamDecisions}, nil
	case "observations", "observation", "obs":
		return []string{events.StreamObservations}, nil
	case "all", "":
		return []string{events.StreamIntents, events.StreamDecisions, events.StreamObservations}, nil
	}
	return nil, fmt.Errorf("--stream %q: want intents, decisions, observations or all", s)
}

func runEvents(ctx context.Context, js jetstream.JetStream, streams []string, o eventsOptions, out, errOut io.Writer) error {
	var since time.Time
	if o.since > 0 {
		since = time.Now().Add(-o.since)
	}
	// Where each stream ends is asked before any is read: a request
	// behind a stream's messages on the connection waits for them.
	filters := make([][]string, len(streams))
	lasts := make([]uint64, len(streams))
	for i, s := range streams {
		if s == events.StreamDecisions {
			filters[i] = []string{events.SubjectDecisionAll} // each once, not again as a node's copy
		}
		last, err := bus.LastSeq(ctx, js, s, filters[i]...)
		if err != nil {
			return fmt.Errorf("read the log: %w", err)
		}
		lasts[i] = last
	}
	ctx, cancel := context.WithCancel(ctx)
	tails := make([]*logTail, 0, len(streams))
	defer func() {
		cancel() // every tail stops reading and deletes its consumer
		for _, t := range tails {
			t.close()
		}
	}()
	for i, s := range streams {
		t, err := openTailAt(ctx, js, s, filters[i], lasts[i], since, o.follow)
		if err != nil {
			return err
		}
		tails = append(tails, t)
	}
	p := newEventPrinter(out, errOut, o.output == "json")
	show := func(it logItem) {
		// The stream's start time is when messages were stored; --since is
		// about when events happened.
		if it.err == nil && it.env.Time.Before(since) {
			return
		}
		if o.actor != "" && (it.err != nil || it.env.Actor != o.actor) {
			return
		}
		p.print(it)
	}
	mergeInitial(ctx, tails, logIdle, show, errOut)
	if !o.follow {
		return nil
	}
	followTails(ctx, tails, show)
	return nil
}

// eventPrinter writes events as they come, one line each, in columns that
// start wide enough for common values and widen (never narrow) as needed.
type eventPrinter struct {
	out, errOut io.Writer
	json        bool
	table       *rememberingTable
}

func newEventPrinter(out, errOut io.Writer, asJSON bool) *eventPrinter {
	t := &rememberingTable{out: out, pad: 2}
	t.grow([]string{strings.Repeat("x", 20), "observations/1000", "node/node-1", "PodStatusObserved",
		"default/hello-1234567890-abcde"})
	return &eventPrinter{out: out, errOut: errOut, json: asJSON, table: t}
}

// print writes one event as a line, or its envelope unchanged as JSON; a
// message that is no event becomes a warning.
func (p *eventPrinter) print(it logItem) {
	if it.err != nil {
		fmt.Fprintf(p.errOut, "warning: %s: %v\n", it.where(), it.err)
		return
	}
	if !p.json {
		p.table.write(eventCells(it))
		return
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, it.data); err != nil {
		fmt.Fprintf(p.errOut, "warning: %s: %v\n", it.where(), err)
		return
	}
	buf.WriteByte('\n')
	_, _ = p.out.Write(buf.Bytes())
}

// eventCells: TIME, STREAM/SEQ, SOURCE, TYPE, SUBJECT, summary.
func eventCells(it logItem) []string {
	subject := it.env.Subject
	if subject == "" {
		subject = it.subject
	}
	return []string{it.env.Time.Local().Format(time.RFC3339), shortStream(it.stream) + "/" + fmt.Sprint(it.seq),
		it.env.Source, shortType(it.env.Type), subject, summarize(it.event)}
}

// shortStream: GANTRY_DECISIONS → decisions.
func shortStream(s string) string { return strings.ToLower(strings.TrimPrefix(s, "GANTRY_")) }

// logItem is one message of a stream, decoded as far as it goes. A marker
// item says the stream has delivered everything it held when it was opened.
type logItem struct {
	stream  string
	seq     uint64
	subject string
	data    []byte
	at      time.Time // envelope time; the previous item's when the envelope is unreadable
	env     events.Envelope
	event   events.Event
	err     error
	marker  bool
}

func (it logItem) where() string {
	if it.seq == 0 {
		return it.stream
	}
	return fmt.Sprintf("%s/%d on %s", shortStream(it.stream), it.seq, it.subject)
}

// logTail reads one stream (optionally filtered) through an ordered consumer.
// It delivers every message present when it was opened, then a marker; with
// follow it goes on with new messages until its context ends.
type logTail struct {
	stream string
	last   uint64 // newest matching sequence when the tail was opened
	items  chan logItem
	done   chan struct{} // closed once its reader is closed (consumer deleted)
}

// close waits until the tail's consumer is gone from the server; its
// context must have ended or its items been read to the end.
func (t *logTail) close() { <-t.done }

// openTail starts reading stream from the beginning (or from since, when set).
func openTail(ctx context.Context, js jetstream.JetStream, stream string, filters []string, since time.Time, follow bool) (*logTail, error) {
	last, err := bus.LastSeq(ctx, js, stream, filters...)
	if err != nil {
		return nil, fmt.Errorf("read the log: %w", err)
	}
	return openTailAt(ctx, js, stream, filters, last, since, follow)
}

// openTailAt is openTail on a stream whose newest matching sequence is last.
func openTailAt(ctx context.Context, js jetstream.JetStream, stream string, filters []string, last uint64, since time.Time, follow bool) (*logTail, error) {
	t := &logTail{stream: stream, last: last, items: make(chan logItem, 256), done: make(chan struct{})}
	if last == 0 && !follow {
		t.items <- logItem{stream: stream, marker: true}
		close(t.items)
		close(t.done)
		return t, nil
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: filters, DeliverPolicy: jetstream.DeliverAllPolicy}
	if !since.IsZero() {
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	r, err := bus.Read(ctx, js, stream, cfg)
	if err != nil {
		close(t.done)
		return nil, err
	}
	empty := last == 0
	if n, ok := r.Pending(); ok && n == 0 {
		empty = true
	}
	go t.run(ctx, r, empty, follow)
	return t, nil
}

func (t *logTail) run(ctx context.Context, r *bus.Reader, empty, follow bool) {
	defer close(t.done)
	defer close(t.items)
	defer r.Close()
	send := func(item logItem) bool {
		select {
		case t.items <- item:
			return true
		case <-ctx.Done():
			return false
		}
	}
	done := empty
	if done && (!send(logItem{stream: t.stream, marker: true}) || !follow) {
		return
	}
	var prev time.Time
	for {
		m, err := r.Next(ctx)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				send(logItem{stream: t.stream, err: fmt.Errorf("read %s: %w", t.stream, err)})
			}
			return
		}
		item, pending := decodeLogMsg(t.stream, m, prev)
		prev = item.at
		if !done && item.seq > t.last {
			done = true
			if !send(logItem{stream: t.stream, marker: true}) || !follow {
				return
			}
		}
		if !send(item) {
			return
		}
		if !done && (item.seq >= t.last || pending == 0) {
			done = true
			if !send(logItem{stream: t.stream, marker: true}) || !follow {
				return
			}
		}
	}
}

// decodeLogMsg turns a message into an item; it never fails, an unreadable
// message is an item with err set. It also returns how many messages the
// consumer had left after this one.
func decodeLogMsg(stream string, m jetstream.Msg, prev time.Time) (logItem, uint64) {
	item := logItem{stream: stream, subject: m.Subject(), data: m.Data(), at: prev}
	var pending uint64 = 1
	md, err := m.Metadata()
	if err != nil {
		item.err = fmt.Errorf("message metadata: %w", err)
		return item, pending
	}
	item.seq, pending = md.Sequence.Stream, md.NumPending
	env, err := events.Parse(item.data)
	if err != nil {
		item.err = err
		return item, pending
	}
	item.env, item.at = env, env.Time
	ev, err := env.Decode()
	if err != nil {
		item.err = err
		return item, pending
	}
	item.event = ev
	return item, pending
}

// mergeInitial emits what the tails held when they were opened, merged by
// event time (ties keep the order of tails: intents before decisions before
// observations). A tail that stays silent for idle is given up on with a warning.
func mergeInitial(ctx context.Context, tails []*logTail, idle time.Duration, emit func(logItem), errOut io.Writer) {
	heads := make([]*logItem, len(tails))
	live := make([]bool, len(tails))
	for i := range tails {
		live[i] = true
	}
	pull := func(i int) {
		item, ok := nextInitial(ctx, tails[i], idle, errOut)
		if !ok {
			live[i], heads[i] = false, nil
			return
		}
		heads[i] = &item
	}
	for i := range tails {
		pull(i)
	}
	for {
		best := -1
		for i, h := range heads {
			if live[i] && h != nil && (best < 0 || h.at.Before(heads[best].at)) {
				best = i
			}
		}
		if best < 0 {
			return
		}
		emit(*heads[best])
		pull(best)
	}
}

// nextInitial is the tail's next item before its marker; false at the marker,
// at the end, on ctx's end or after idle without a message.
func nextInitial(ctx context.Context, t *logTail, idle time.Duration, errOut io.Writer) (logItem, bool) {
	timer := time.NewTimer(idle)
	defer timer.Stop()
	select {
	case item, ok := <-t.items:
		if !ok || item.marker {
			return logItem{}, false
		}
		return item, true
	case <-timer.C:
		fmt.Fprintf(errOut, "warning: %s: no message for %s before sequence %d; going on without it\n", t.stream, idle, t.last)
		return logItem{}, false
	case <-ctx.Done():
		return logItem{}, false
	}
}

// collectInitial is mergeInitial into a slice.
func collectInitial(ctx context.Context, tails []*logTail, errOut io.Writer) []logItem {
	var out []logItem
	mergeInitial(ctx, tails, logIdle, func(it logItem) { out = append(out, it) }, errOut)
	return out
}

// followTails emits new items as they arrive, from every tail, until ctx ends.
func followTails(ctx context.Context, tails []*logTail, emit func(logItem)) {
	merged := make(chan logItem)
	for _, t := range tails {
		go func() {
			for item := range t.items {
				select {
				case merged <- item:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case item := <-merged:
			if !item.marker {
				emit(item)
			}
		}
	}
}
