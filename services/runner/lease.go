package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/events/bus"
)

// lease is a service's claim to act: a key in the gantry_leases bucket,
// whose entries expire after bus.LeaseTTL unless renewed. Only the holder
// decides; the others follow the log and stay warm. Renewal is a
// compare-and-set on the key's revision, so two holders cannot both renew.
// A holder that stalls past the TTL must renew before it decides again; a
// decision it had already started is fenced by the log's expectations.
type lease struct {
	kv       jetstream.KeyValue
	key, id  string
	rev      uint64    // revision of our entry while we hold it
	renewed  time.Time // when our last renewal was stored
	holding  bool
	lastTry  time.Time
	interval time.Duration
}

func newLease(ctx context.Context, js jetstream.JetStream, service, id string) (*lease, error) {
	kv, err := js.KeyValue(ctx, bus.BucketLeases)
	if err != nil {
		return nil, fmt.Errorf("lease for %s: %w", service, err)
	}
	return &lease{kv: kv, key: service, id: id, interval: bus.LeaseTTL / 3}, nil
}

// held reports whether this instance may act now, claiming or renewing the
// lease when it is due.
func (l *lease) held(ctx context.Context, now time.Time) (bool, error) {
	if l.holding && now.Sub(l.renewed) >= bus.LeaseTTL {
		l.holding = false // stalled past the TTL: someone else may hold it now
	}
	if now.Sub(l.lastTry) < l.interval && (l.holding || !l.lastTry.IsZero()) {
		return l.holding, nil
	}
	l.lastTry = now
	var rev uint64
	var err error
	if l.holding {
		rev, err = l.kv.Update(ctx, l.key, []byte(l.id), l.rev)
	} else {
		rev, err = l.kv.Create(ctx, l.key, []byte(l.id))
	}
	switch {
	case err == nil:
		l.holding, l.rev, l.renewed = true, rev, now
	case errors.Is(err, jetstream.ErrKeyExists), isWrongSequence(err):
		l.holding = false // another instance holds it
	default:
		l.holding = false
		return false, fmt.Errorf("lease %s: %w", l.key, err)
	}
	return l.holding, nil
}

// release gives the lease up so a standby takes over at once.
func (l *lease) release(ctx context.Context) {
	if l.holding {
		_ = l.kv.Delete(ctx, l.key, jetstream.LastRevision(l.rev))
		l.holding = false
	}
}

func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}
