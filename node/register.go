package node

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
)

// Actor is the identity a node agent writes its own events under (its
// registration), until nodes authenticate with identities of their own.
func Actor(node string) string { return "node/" + node }

// register announces the node under its creation time, carried over from its
// last registration, as the node's actor, caused by this run of the agent:
// the run's id (new at every start) is the registration's causation and
// correlation, so the log says which start of the agent each one records.
func (a *Agent) register(ctx context.Context) error {
	now := a.cfg.Clock().UTC()
	created, err := a.createdAt(ctx)
	if err != nil {
		return err
	}
	if created.IsZero() {
		created = now
	}
	a.info.CreatedAt = &created
	run, id := events.NewID(), events.NewID()
	env, err := events.Seal(&events.NodeRegistered{Node: a.info}, events.Meta{ID: id, Source: "node/" + a.cfg.Name,
		Subject: a.cfg.Name, Time: now, Actor: Actor(a.cfg.Name), CausationID: run, CorrelationID: run})
	if err != nil {
		return err
	}
	out := bus.Outgoing{Subject: events.ObsNodeSubject(a.cfg.Name), Envelope: env, MsgID: id}
	if _, err := bus.PublishOne(ctx, a.conn.JS, out); err != nil {
		return fmt.Errorf("node %s register: %w", a.cfg.Name, err)
	}
	return nil
}

// createdAt is the creation time the node's last registration carries (or
// that registration's time, when an older agent wrote it), else the one its
// last heartbeat carries (when the registration has aged out of the
// observations); zero when the node never registered.
func (a *Agent) createdAt(ctx context.Context) (time.Time, error) {
	for _, src := range []struct{ stream, subject string }{
		{events.StreamObservations, events.ObsNodeSubject(a.cfg.Name)},
		{events.StreamHeartbeats, events.HeartbeatSubject(a.cfg.Name)},
	} {
		st, err := a.conn.JS.Stream(ctx, src.stream)
		if err != nil {
			return time.Time{}, fmt.Errorf("node %s creation time: stream %s: %w", a.cfg.Name, src.stream, err)
		}
		m, err := st.GetLastMsgForSubject(ctx, src.subject)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("node %s creation time: last message on %s: %w", a.cfg.Name, src.subject, err)
		}
		env, err := events.Parse(m.Data)
		if err != nil {
			continue
		}
		ev, err := env.Decode()
		if err != nil {
			continue
		}
		switch e := ev.(type) {
		case *events.NodeRegistered:
			if e.Node.CreatedAt != nil {
				return e.Node.CreatedAt.UTC(), nil
			}
			return env.Time.UTC(), nil
		case *events.NodeHeartbeat:
			if e.Node.CreatedAt != nil {
				return e.Node.CreatedAt.UTC(), nil
			}
		}
	}
	return time.Time{}, nil
}

// heartbeats beats every heartbeatInterval until ctx ends, except while the
// agent is silent (fenced, until it has caught up with the log: fence.go).
func (a *Agent) heartbeats(ctx context.Context) {
	hb := time.NewTicker(a.heartbeatInterval())
	defer hb.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hb.C:
			if a.silent.Load() {
				continue
			}
			a.beat(ctx)
			if a.cfg.HeartbeatJitter > 0 {
				hb.Reset(a.heartbeatInterval())
			}
		}
	}
}

// heartbeatInterval is HeartbeatEvery plus, with HeartbeatJitter, a random
// part of it.
func (a *Agent) heartbeatInterval() time.Duration {
	if a.cfg.HeartbeatJitter <= 0 {
		return a.cfg.HeartbeatEvery
	}
	return a.cfg.HeartbeatEvery + rand.N(a.cfg.HeartbeatJitter)
}

// heartbeatTimeout bounds how long a heartbeat waits for the log (longer
// with a longer HeartbeatEvery); the fence watches the time apart from it.
const heartbeatTimeout = 5 * time.Second

// maxBeatsInFlight bounds the heartbeats waiting for the log's answer.
const maxBeatsInFlight = 4

// beat sends a heartbeat without waiting for the log's answer, so a slow
// answer (a connection busy with other traffic, a log under load) does not
// space the heartbeats out: the health service judges a node by the
// heartbeats it reads, each stamped with when it was made. At most
// maxBeatsInFlight wait for their answer; past that a beat is skipped.
func (a *Agent) beat(ctx context.Context) {
	if a.beats.Add(1) > maxBeatsInFlight {
		a.beats.Add(-1)
		a.log.Warn().Int("in_flight", maxBeatsInFlight).Msg("heartbeat skipped: the log has not answered the last ones")
		return
	}
	go func() {
		defer a.beats.Add(-1)
		if err := a.heartbeat(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn().Err(err).Msg("heartbeat")
		}
	}()
}

// heartbeat says the node is alive and how many pods it runs; it has a
// fresh id, being a point in time. Once the log has stored it, it is the
// node's newest acknowledged heartbeat (the fence's clock). It is not made
// while the connection is down: the client would keep it and send it on
// reconnecting, a heartbeat from before a partition arriving after it.
func (a *Agent) heartbeat(ctx context.Context) error {
	conn := a.conn
	if a.cfg.HeartbeatConn != nil {
		conn = a.cfg.HeartbeatConn
	}
	if !conn.NC.IsConnected() {
		return fmt.Errorf("node %s heartbeat: not connected to the log", a.cfg.Name)
	}
	n := 0
	a.mu.Lock()
	for _, b := range a.desired {
		if !b.deleted {
			n++
		}
	}
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, max(a.cfg.HeartbeatEvery, heartbeatTimeout))
	defer cancel()
	made := a.cfg.Clock()
	out, err := a.outgoing(events.HeartbeatSubject(a.cfg.Name), &events.NodeHeartbeat{Node: a.info, Pods: n}, events.Envelope{}, a.cfg.Name, events.NewID())
	if err != nil {
		return err
	}
	if _, err := bus.PublishOne(ctx, conn.JS, out); err != nil {
		return fmt.Errorf("node %s heartbeat: %w", a.cfg.Name, err)
	}
	// The newest heartbeat stored, whatever order the answers come in.
	for {
		last := a.lastAck.Load()
		if made.UnixNano() <= last || a.lastAck.CompareAndSwap(last, made.UnixNano()) {
			return nil
		}
	}
}
