package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/events"
)

// ReaderInactive is how long the server keeps a Reader's consumer once its
// client has stopped asking for messages without deleting it (a CLI that
// was killed); nats.go's ordered consumers default to 5 minutes.
const ReaderInactive = 15 * time.Second

// readMaxBytes bounds what a Reader has asked the server for and not yet
// read, whatever the size of the messages, so requests sharing the
// connection (the next stream's info) are not queued behind them. Above the
// largest message (MaxPayload 8 MB).
const readMaxBytes = 16 << 20

// Reader reads one stream through an ordered consumer for a short-lived
// client (a CLI command): bounded in bytes in flight, and gone from the
// server once Close is called.
type Reader struct {
	js     jetstream.JetStream
	stream string
	cons   jetstream.Consumer
	it     jetstream.MessagesContext
}

// Read opens a Reader on stream. cfg.InactiveThreshold defaults to
// ReaderInactive.
func Read(ctx context.Context, js jetstream.JetStream, stream string, cfg jetstream.OrderedConsumerConfig) (*Reader, error) {
	if cfg.InactiveThreshold == 0 {
		cfg.InactiveThreshold = ReaderInactive
	}
	cons, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", stream, err)
	}
	it, err := cons.Messages(jetstream.PullMaxBytes(readMaxBytes))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", stream, err)
	}
	r := &Reader{js: js, stream: stream, cons: cons, it: it}
	return r, nil
}

// Next returns the next message, waiting until ctx ends.
func (r *Reader) Next(ctx context.Context) (jetstream.Msg, error) {
	return r.it.Next(jetstream.NextContext(ctx))
}

// Pending is how many messages the consumer had left to deliver when it
// was made (ok false when it cannot tell).
func (r *Reader) Pending() (n uint64, ok bool) {
	info := r.cons.CachedInfo()
	if info == nil {
		return 0, false
	}
	return info.NumPending, true
}

// Close stops reading and deletes the consumer on the server; it is safe
// to call more than once.
func (r *Reader) Close() {
	r.it.Stop()
	info := r.cons.CachedInfo()
	if info == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = r.js.DeleteConsumer(ctx, r.stream, info.Name) // gone already: as good
}

// RecordOf decodes a message of stream into its record.
func RecordOf(stream string, m jetstream.Msg) (events.Record, error) {
	md, err := m.Metadata()
	if err != nil {
		return events.Record{}, fmt.Errorf("read %s: %w", stream, err)
	}
	env, err := events.Parse(m.Data())
	if err != nil {
		return events.Record{}, fmt.Errorf("read %s seq %d: %w", stream, md.Sequence.Stream, err)
	}
	ev, err := env.Decode()
	if err != nil {
		return events.Record{}, fmt.Errorf("read %s seq %d: %w", stream, md.Sequence.Stream, err)
	}
	return events.Record{Stream: stream, Subject: m.Subject(), Seq: md.Sequence.Stream, Envelope: env, Event: ev}, nil
}
