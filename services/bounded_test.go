package services_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services"
	"github.com/gantry-sh/gantry/services/runner"
)

// Given a control plane with the default ceiling, when a Deployment asks
// for a billion replicas, then admission refuses it naming the field.
func TestABillionReplicasAreRefusedAtAdmission(t *testing.T) {
	c := startCluster(t)
	v := c.verdict(c.apply(deployment("huge", 1_000_000_000, "nginx:1.27")))
	rej, ok := v.(*events.AdmissionRejected)
	if !ok || !strings.HasPrefix(strings.Join(rej.Reasons, "; "), "spec.replicas: 1000000000 exceeds the cluster's limit of 10000 pods per workload") {
		t.Fatalf("verdict %+v; want refused on spec.replicas", v)
	}
}

// Given a control plane whose ceiling lets a billion replicas through (as a
// log written before the ceiling would), when the replica is planning that
// Deployment and the plane is stopped, then every service stops promptly:
// no pass is ever big enough to hold the stop up.
func TestAStopDuringAHugePlanIsPrompt(t *testing.T) {
	conn, _ := bustest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	plane, err := services.Start(ctx, conn, nil, services.Config{Runner: runner.Config{Resync: 100 * time.Millisecond},
		MaxPodsPerWorkload: 1 << 30}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := plane.WaitReady(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, conn: conn}
	if _, ok := c.verdict(c.apply(deployment("huge", 1_000_000_000, "nginx:1.27"))).(*events.AdmissionAccepted); !ok {
		t.Fatal("the huge Deployment was not accepted under a ceiling of 2^30")
	}
	c.eventually("the huge Deployment's first batches planned", func() bool {
		// The decisions stream's last sequence on pods' subjects: well
		// past the first slow-start batches (100, 100, 200).
		n, err := bus.LastSeq(context.Background(), conn.JS, events.StreamDecisions, "gantry.decision.pod.>")
		return err == nil && n >= 400
	})
	cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- plane.Wait() }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("the control plane did not stop within 5 s of its context ending")
	}
}

// Given a Deployment of 2 running pods, when a node is told to stop one by
// a message no service wrote (a PodDeleted on the node's own subject), then
// the node's removal counts: the read model lets the pod go and the
// Deployment is repaired with a replacement.
func TestARemovalWithNoDeletionIsRepaired(t *testing.T) {
	c := startCluster(t, "node-a")
	c.verdict(c.apply(deployment("web", 2, "nginx:1.27")))
	var victim string
	c.eventually("2 pods running", func() bool {
		rs := running(c.pods(), "web")
		if len(rs) == 2 {
			victim = rs[0].Name
		}
		return len(rs) == 2
	})
	p := findPod(c, victim)
	c.submit(events.NodePodSubject(p.Node, p.Namespace, p.Name),
		&events.PodDeleted{Namespace: p.Namespace, Name: p.Name, UID: p.UID, Node: p.Node, Epoch: p.Epoch, Reason: "not a service's"})
	c.eventually("the removed pod gone from the read model and a replacement running", func() bool {
		rs := running(c.pods(), "web")
		for _, r := range rs {
			if r.Name == victim {
				return false
			}
		}
		return len(rs) == 2 && findPod(c, victim) == nil
	})
}

func findPod(c *cluster, name string) *projections.Pod {
	for _, p := range c.pods() {
		if p.Name == name {
			return &p
		}
	}
	return nil
}
