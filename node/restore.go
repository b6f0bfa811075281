package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
)

// relearnRetry is how often relearn tries again while the decisions stream
// or its consumer cannot be had.
const relearnRetry = time.Second

// decisions is how the loop reads the node's decisions: Config.Feed, or its
// own durable consumer. lost is closed when that consumer is deleted under
// it; stop ends the consumer.
type decisions struct {
	msgs <-chan jetstream.Msg
	lost <-chan struct{}
	stop func()
}

// end stops reading them; the zero decisions have nothing to stop.
func (d decisions) end() {
	if d.stop != nil {
		d.stop()
	}
}

// follow starts reading the node's decisions.
func (a *Agent) follow(ctx context.Context) (decisions, error) {
	if a.cfg.Feed != nil {
		return decisions{msgs: a.cfg.Feed, stop: func() {}}, nil
	}
	msgs, stop, lost, err := a.consume(ctx)
	if err != nil {
		return decisions{}, err
	}
	return decisions{msgs: msgs, lost: lost, stop: stop}, nil
}

// relearn follows the node's decisions afresh, after its durable consumer
// was deleted under it (a restored log, an accepted loss, an operator) or
// after the node fenced itself: what the node should run is forgotten and
// read again from the newest decision of each of its pods, so a pod the log
// no longer binds here is stopped, and reported removed, by the next
// reconcile instead of running on unsaid. why is logged.
func (a *Agent) relearn(ctx context.Context, why string) (decisions, error) {
	a.log.Warn().Str("consumer", ConsumerName(a.cfg.Name)).Msg(why)
	a.mu.Lock()
	before := len(a.desired)
	a.desired = map[string]*binding{}
	a.mu.Unlock()
	a.configs.clear() // a restored log's sequences may start lower
	for {
		err := a.restore(ctx)
		if err == nil {
			dec, ferr := a.follow(ctx)
			if ferr == nil {
				a.log.Info().Int("before", before).Int("now", a.desiredCount()).Msg("decisions read again: pods bound here")
				return dec, nil
			}
			err = ferr
		}
		if ctx.Err() != nil {
			return decisions{}, ctx.Err()
		}
		a.log.Warn().Err(err).Msg("decisions not readable yet; trying again")
		select {
		case <-ctx.Done():
			return decisions{}, ctx.Err()
		case <-time.After(relearnRetry):
		}
	}
}

// consume follows the node's durable consumer; stop ends it. lost is closed
// when the consumer is deleted under it (msgs then stays open and silent).
func (a *Agent) consume(ctx context.Context) (msgs <-chan jetstream.Msg, stop func(), lost <-chan struct{}, err error) {
	cons, err := a.conn.JS.CreateOrUpdateConsumer(ctx, events.StreamDecisions, jetstream.ConsumerConfig{
		Durable:       ConsumerName(a.cfg.Name),
		FilterSubject: events.NodeFilter(a.cfg.Name),
		DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       time.Minute,
		MaxAckPending: 1024,
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("node %s consumer: %w", a.cfg.Name, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("node %s consume: %w", a.cfg.Name, err)
	}
	out := make(chan jetstream.Msg, 256)
	gone := make(chan struct{})
	go func() {
		for {
			m, err := it.Next()
			if err != nil {
				if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
					close(gone)
					return
				}
				if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
					close(out)
					return
				}
				a.log.Warn().Err(err).Msg("consume decisions")
				continue
			}
			select {
			case out <- m:
			case <-ctx.Done():
				close(out)
				return
			}
		}
	}()
	return out, it.Stop, gone, nil
}

// restore reads the newest decision on every subject addressed to this node
// (its pods, the ConfigMaps and Secrets they use, its volumes) and the
// newest report the node made of each pod, so a restarted agent knows what it runs
// and what it said, and neither starts nor reports anything twice.
func (a *Agent) restore(ctx context.Context) error {
	err := lastPerSubject(ctx, a.conn.JS, events.StreamDecisions, events.NodeFilter(a.cfg.Name), func(m jetstream.Msg) {
		a.take(m)
	})
	if err != nil {
		return fmt.Errorf("node %s restore decisions: %w", a.cfg.Name, err)
	}
	err = lastPerSubject(ctx, a.conn.JS, events.StreamObservations, "gantry.obs."+a.cfg.Name+".pod.>", func(m jetstream.Msg) {
		env, err := events.Parse(m.Data())
		if err != nil {
			return
		}
		ev, err := env.Decode()
		if err != nil {
			return
		}
		switch e := ev.(type) {
		case *events.PodStatusObserved:
			if b, err := events.Marshal(e); err == nil {
				a.rmu.Lock()
				a.published[key(e.Namespace, e.Name)] = reported{status: string(b), id: env.ID}
				a.rmu.Unlock()
			}
		case *events.PodRemoved:
			a.rmu.Lock()
			a.removed[key(e.Namespace, e.Name)] = e.UID
			a.rmu.Unlock()
		}
	})
	if err != nil {
		return fmt.Errorf("node %s restore observations: %w", a.cfg.Name, err)
	}
	return nil
}

func lastPerSubject(ctx context.Context, js jetstream.JetStream, stream, filter string, fn func(jetstream.Msg)) error {
	last, err := bus.LastSeq(ctx, js, stream, filter)
	if err != nil || last == 0 {
		return err
	}
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter}, DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy})
	if err != nil {
		return err
	}
	for {
		batch, err := cons.FetchNoWait(1024)
		if err != nil {
			return err
		}
		n := 0
		done := false
		for m := range batch.Messages() {
			n++
			fn(m)
			if md, err := m.Metadata(); err == nil && md.NumPending == 0 {
				done = true
			}
		}
		if err := batch.Error(); err != nil {
			return err
		}
		if done {
			return nil
		}
		if n == 0 {
			// Nothing was waiting; fetch with a wait to be sure we are at the end.
			b2, err := cons.Fetch(1024, jetstream.FetchMaxWait(500*time.Millisecond))
			if err != nil {
				return err
			}
			got := 0
			for m := range b2.Messages() {
				got++
				fn(m)
			}
			if got == 0 {
				return nil
			}
		}
	}
}

// take folds one decision addressed to this node.
func (a *Agent) take(m jetstream.Msg) {
	env, err := events.Parse(m.Data())
	if err != nil {
		a.log.Error().Err(err).Msg("undecodable decision")
		return
	}
	ev, err := env.Decode()
	if err != nil {
		a.log.Error().Err(err).Msg("undecodable decision")
		return
	}
	switch e := ev.(type) {
	case *events.PodBound:
		if e.Node != a.cfg.Name {
			return
		}
		k := key(e.Pod.Namespace, e.Pod.Name)
		if cur := a.desired[k]; cur != nil && cur.bound != nil && cur.bound.Pod.UID == e.Pod.UID && cur.bound.Epoch > e.Epoch {
			return // fenced: an older binding
		}
		a.mu.Lock()
		a.desired[k] = &binding{bound: e, env: env}
		a.mu.Unlock()
	case *events.PodDeleted:
		k := key(e.Namespace, e.Name)
		cur := a.desired[k]
		switch {
		case cur != nil && cur.bound != nil && cur.bound.Pod.UID == e.UID:
			a.mu.Lock()
			cur.deleted = true
			cur.env = env
			cur.grace = e.GracePeriodSeconds
			a.mu.Unlock()
		case cur == nil && e.Node == a.cfg.Name:
			// The pod's newest decision, read afresh (restore, relearn):
			// its binding is known only from the deletion, which is what
			// the removal reports as its cause.
			a.mu.Lock()
			a.desired[k] = &binding{bound: &events.PodBound{Node: e.Node, Epoch: e.Epoch,
				Pod: events.PodPlanned{Namespace: e.Namespace, Name: e.Name, UID: e.UID}}, env: env, deleted: true, grace: e.GracePeriodSeconds}
			a.mu.Unlock()
		}
	case *events.ConfigDelivered:
		var seq uint64
		if md, err := m.Metadata(); err == nil {
			seq = md.Sequence.Stream
		}
		a.takeConfig(e, seq)
	}
}

func key(ns, name string) string { return ns + "/" + name }

// desiredCount is how many pods this node should run.
func (a *Agent) desiredCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.desired)
}

// desiredCopy returns the binding of a pod this node runs, or is stopping
// (a deleted pod stays until its removal is stored: its logs are served
// while it terminates, as kubectl logs a Terminating pod), or nil.
func (a *Agent) desiredCopy(k string) *events.PodBound {
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.desired[k]
	if b == nil {
		return nil
	}
	return b.bound
}
