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

// RequestPodCIDR asks the control plane for the node's pod CIDR (the one
// given, when set, which is honoured if no other node has it) and waits,
// up to timeout, for the ipam service's answer to this request: the
// allocation, or its refusal as an error. A node asking again (restarted)
// gets the one it has.
func RequestPodCIDR(ctx context.Context, conn *bus.Conn, name, requested string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	env, err := events.Seal(&events.NodeCIDRRequested{Node: name, Requested: requested},
		events.Meta{ID: events.DeriveID("cidr-request/" + name + "/" + time.Now().String()), Source: "node/" + name, Subject: name, Time: time.Now()})
	if err != nil {
		return "", err
	}
	res, err := bus.PublishOne(ctx, conn.JS, bus.Outgoing{Subject: events.ObsNodeCIDRSubject(name), Envelope: env})
	if err != nil {
		return "", fmt.Errorf("node %s pod CIDR: ask: %w", name, err)
	}
	r, err := bus.Read(ctx, conn.JS, events.StreamDecisions, jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.SubjectNodeCIDRAlloc}})
	if err != nil {
		return "", fmt.Errorf("node %s pod CIDR: %w", name, err)
	}
	defer r.Close()
	for {
		m, err := r.Next(ctx)
		if err != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return "", fmt.Errorf("node %s pod CIDR: no answer from the control plane's ipam service within %s", name, timeout)
			}
			return "", fmt.Errorf("node %s pod CIDR: %w", name, err)
		}
		rec, err := bus.RecordOf(events.StreamDecisions, m)
		if err != nil {
			continue
		}
		e, ok := rec.Event.(*events.NodeCIDRAllocated)
		if !ok || e.Node != name || e.RequestSeq != res.Seq {
			continue
		}
		if e.Refused != "" {
			return "", fmt.Errorf("node %s pod CIDR: %s", name, e.Refused)
		}
		return e.PodCIDR, nil
	}
}
