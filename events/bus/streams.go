package bus

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/events"
)

// Conn is one connection to NATS with its JetStream context.
type Conn struct {
	NC *nats.Conn
	JS jetstream.JetStream
}

// Connect dials NATS. name identifies the client in server monitoring.
func Connect(rawURL, name string, opts ...nats.Option) (*Conn, error) {
	if _, err := url.Parse(rawURL); err != nil {
		return nil, fmt.Errorf("nats url %q: %w", rawURL, err)
	}
	opts = append([]nats.Option{nats.Name(name), nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond), nats.Timeout(5 * time.Second)}, opts...)
	nc, err := nats.Connect(rawURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats at %s: %w", rawURL, err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream on %s: %w", rawURL, err)
	}
	return &Conn{NC: nc, JS: js}, nil
}

// Close drains the connection.
func (c *Conn) Close() {
	if c != nil && c.NC != nil {
		_ = c.NC.Drain()
	}
}

// Provision creates the streams of the log, or updates them to the current
// definition; running it twice is a no-op. replicas is 1 embedded, 3 in a cluster.
// JetStream cannot change a stream's storage in place, so a memory stream
// found on disk (written by an older Gantry) is deleted and made again: it
// holds only what its writers send again.
func Provision(ctx context.Context, js jetstream.JetStream, replicas int) error {
	for _, s := range events.Streams() {
		storage := jetstream.FileStorage
		if s.Memory {
			storage = jetstream.MemoryStorage
			if err := dropIfStoredElsewhere(ctx, js, s.Name, storage); err != nil {
				return err
			}
		}
		cfg := jetstream.StreamConfig{
			Name:               s.Name,
			Subjects:           s.Subjects,
			Storage:            storage,
			Retention:          jetstream.LimitsPolicy,
			Replicas:           replicas,
			MaxAge:             s.MaxAge,
			MaxMsgsPerSubject:  s.MaxMsgsPerSubject,
			AllowRollup:        s.AllowRollup,
			AllowAtomicPublish: s.AllowAtomic,
			MaxConsumers:       s.MaxConsumers,
			AllowDirect:        true,
			Duplicates:         2 * time.Minute,
		}
		if cfg.MaxMsgsPerSubject == 0 {
			cfg.MaxMsgsPerSubject = -1
		}
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("provision stream %s: %w", s.Name, err)
		}
	}
	return nil
}

// dropIfStoredElsewhere deletes the stream name when it exists with another
// storage than want.
func dropIfStoredElsewhere(ctx context.Context, js jetstream.JetStream, name string, want jetstream.StorageType) error {
	st, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("provision stream %s: %w", name, err)
	}
	if st.CachedInfo().Config.Storage == want {
		return nil
	}
	if err := js.DeleteStream(ctx, name); err != nil {
		return fmt.Errorf("provision stream %s: move to %s storage: %w", name, want, err)
	}
	return nil
}

// LastSeq returns the sequence of the newest message matching any of the
// filters in a stream, 0 when none does.
func LastSeq(ctx context.Context, js jetstream.JetStream, stream string, filters ...string) (uint64, error) {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	if len(filters) == 0 {
		// The info js.Stream just fetched, without subject details: a
		// second request would only cost a round trip.
		info := st.CachedInfo()
		if info.State.Msgs == 0 {
			return 0, nil // every message aged out: LastSeq names one no reader will see
		}
		return info.State.LastSeq, nil
	}
	var last uint64
	for _, f := range filters {
		m, err := st.GetLastMsgForSubject(ctx, f)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("last message on %s in %s: %w", f, stream, err)
		}
		last = max(last, m.Sequence)
	}
	return last, nil
}
