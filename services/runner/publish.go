package runner

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
)

// unit is what the log must store all or none: one decision with its
// copies, or an atomic group of decisions with theirs.
type unit struct {
	msgs  []bus.Outgoing
	read  []bool // the messages the service reads back (not the copies)
	await []bool // of those, the ones the runner waits to see (not Assumed)
	group string // the Atomic key, if any
	// assumed are the unit's decisions the service already counts as made
	// (Decision.Assumed): forgotten if the log does not store them.
	assumed []Decision
}

// units seals the decisions and groups them into units, in the order
// Decide gave them (a group sits where its first decision was). lost are
// the assumed decisions that will not be published (a seal failed).
func (r *Runner) units(ds []Decision, now time.Time) (us []unit, lost []Decision) {
	group := map[string]int{} // atomic key → index in us
	broken := map[string]bool{}
	for _, d := range ds {
		m := d.Meta
		if m.ID == "" {
			m.ID = events.DeriveID(d.MsgID)
		}
		if m.Source == "" {
			m.Source = r.svc.Name()
		}
		if m.Time.IsZero() {
			m.Time = now
		}
		env, err := events.Seal(d.Event, m)
		if err != nil {
			r.log.Error().Err(err).Str("group", d.Atomic).Msg("seal decision")
			if d.Atomic != "" {
				broken[d.Atomic] = true // all or none: none
			}
			if d.Assumed {
				lost = append(lost, d)
			}
			continue
		}
		i, ok := group[d.Atomic]
		if d.Atomic == "" || !ok {
			i = len(us)
			us = append(us, unit{group: d.Atomic})
			if d.Atomic != "" {
				group[d.Atomic] = i
			}
		}
		u := &us[i]
		// Copies first: the last message of every batch is then one the
		// service reads back, and a copy carries no expectation of its own
		// (the decision's expectation fences the whole unit).
		for _, to := range d.CopyTo {
			u.msgs = append(u.msgs, bus.Outgoing{Subject: to, Envelope: env, MsgID: copyID(d.MsgID, to)})
			u.read, u.await = append(u.read, false), append(u.await, false)
		}
		u.msgs = append(u.msgs, bus.Outgoing{Subject: d.Subject, Envelope: env, MsgID: d.MsgID,
			ExpectLastSeq: d.ExpectLastSeq, ExpectOn: d.ExpectOn})
		u.read, u.await = append(u.read, true), append(u.await, !d.Assumed)
		if d.Assumed {
			u.assumed = append(u.assumed, d)
		}
	}
	if len(broken) > 0 {
		us = slices.DeleteFunc(us, func(u unit) bool {
			if broken[u.group] {
				lost = append(lost, u.assumed...)
			}
			return broken[u.group]
		})
	}
	return us, lost
}

func copyID(msgID, subject string) string {
	if msgID == "" {
		return ""
	}
	return msgID + "@" + subject
}

// publish stores the units in atomic batches of up to bus.MaxBatch
// messages, a few batches in flight at once (the units are independent:
// each holds its own expectations). It returns how many decisions were
// stored, and the assumed decisions the log did not store.
func (r *Runner) publish(ctx context.Context, us []unit) (int, []Decision) {
	var chunks [][]unit
	for len(us) > 0 {
		n, size := 0, 0
		for n < len(us) && size+len(us[n].msgs) <= bus.MaxBatch {
			size += len(us[n].msgs)
			n++
		}
		n = max(n, 1) // a unit above the limit: the log refuses it, and says why
		chunks = append(chunks, us[:n])
		us = us[n:]
	}
	if len(chunks) == 1 {
		return r.publishChunk(ctx, chunks[0])
	}
	var (
		wg     sync.WaitGroup
		stored atomic.Int64
		next   atomic.Int64
		mu     sync.Mutex
		lost   []Decision
	)
	for range min(len(chunks), batchesInFlight) {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(chunks)); i = next.Add(1) - 1 {
				n, l := r.publishChunk(ctx, chunks[i])
				stored.Add(int64(n))
				if len(l) > 0 {
					mu.Lock()
					lost = append(lost, l...)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return int(stored.Load()), lost
}

// batchesInFlight is how many atomic batches one runner keeps in flight:
// enough to keep the stream busy while batches travel and are staged, well
// below the server's limit of 50 per stream (the services together stay
// under it). In B1 the scheduler stored 2,650 pods/s within its passes with
// 4 in flight, 3,200–3,460 with 8, 3,400–3,600 with 16.
const batchesInFlight = 8

// publishChunk stores units in one atomic batch. A batch is refused whole
// when one expectation is stale (another writer was first) or one message
// id is already stored (decided again after a crash or a timeout); then
// the chunk is halved until the refused units stand alone, so one stale
// decision costs a few batches, not one publish per decision.
func (r *Runner) publishChunk(ctx context.Context, us []unit) (int, []Decision) {
	var out []bus.Outgoing
	single := true
	for _, u := range us {
		out = append(out, u.msgs...)
		single = single && len(u.msgs) == 1
	}
	if single && len(out) < bus.MinAtomicBatch {
		return r.publishEach(ctx, us, out)
	}
	stream, last, err := bus.PublishAtomic(ctx, r.js, out)
	if err == nil {
		stored := 0
		seq := last - uint64(len(out)) // the batch's sequences are contiguous
		for _, u := range us {
			for j := range u.msgs {
				seq++
				if u.read[j] {
					stored++
				}
				if u.await[j] {
					r.stored(stream, seq)
				}
			}
		}
		return stored, nil
	}
	if len(us) > 1 && ctx.Err() == nil {
		half := len(us) / 2
		n1, l1 := r.publishChunk(ctx, us[:half])
		n2, l2 := r.publishChunk(ctx, us[half:])
		return n1 + n2, append(l1, l2...)
	}
	r.refused(err, out)
	if errors.Is(err, bus.ErrDuplicate) {
		return 0, nil // stored before: it will be read back
	}
	return 0, us[0].assumed
}

// publishEach stores a few decisions that stand alone (no copies, no
// group; us[i] is out[i]) as plain pipelined publishes: cheaper than a
// small atomic batch.
func (r *Runner) publishEach(ctx context.Context, us []unit, out []bus.Outgoing) (int, []Decision) {
	res, err := bus.Publish(ctx, r.js, out)
	if err != nil {
		r.log.Error().Err(err).Msg("publish decisions")
	}
	stored := 0
	var lost []Decision
	for i, x := range res {
		switch {
		case x.Err == nil && x.Duplicate:
			r.log.Debug().Str("type", out[i].Envelope.Type).Str("subject", out[i].Subject).Msg("decision already stored")
		case x.Err == nil && x.Seq > 0:
			if us[i].await[0] {
				r.stored(x.Stream, x.Seq)
			}
			stored++
		case x.Err != nil:
			r.refused(x.Err, out[i:i+1])
			if !errors.Is(x.Err, bus.ErrDuplicate) {
				lost = append(lost, us[i].assumed...)
			}
		}
	}
	// What the publish never got to (its context ended) is not stored.
	for i := len(res); i < len(us); i++ {
		lost = append(lost, us[i].assumed...)
	}
	return stored, lost
}

// refused logs why the log did not store a unit.
func (r *Runner) refused(err error, out []bus.Outgoing) {
	first := out[0].Envelope.Type
	switch {
	case errors.Is(err, bus.ErrConflict):
		r.log.Debug().Err(err).Str("type", first).Str("subject", out[len(out)-1].Subject).Msg("decision lost a race; will decide again")
	case errors.Is(err, bus.ErrDuplicate):
		r.log.Debug().Err(err).Str("type", first).Str("subject", out[len(out)-1].Subject).Msg("decision already stored")
	case errors.Is(err, context.Canceled):
	default:
		r.log.Error().Err(err).Str("type", first).Str("subject", out[len(out)-1].Subject).Msg("decision not stored")
	}
}
