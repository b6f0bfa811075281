package services_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/services"
	"github.com/gantry-sh/gantry/services/runner"
	"github.com/gantry-sh/gantry/services/scheduler"
)

// The scheduler is killed (its goroutine stopped, mid-pass or mid-batch) at
// random points while it binds 10,000 pods, and started again, several
// times. In the end every pod is bound exactly once: no second binding was
// accepted by the log, none was lost.
func TestKillingTheSchedulerLosesAndDuplicatesNoBinding(t *testing.T) {
	const deployments, replicas, nodes = 100, 100, 50
	conn, _ := bustest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	plane, err := services.Start(ctx, conn, []string{"admission", "replica", "rollout"}, services.Config{Runner: runner.Config{Resync: 50 * time.Millisecond}}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := plane.WaitReady(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < nodes; i++ {
		publishHeartbeat(t, conn, fmt.Sprintf("node-%d", i))
	}
	var out []bus.Outgoing
	for i := 0; i < deployments; i++ {
		name := fmt.Sprintf("kill-%d", i)
		out = append(out, intentFor(t, name, replicas))
	}
	if _, err := bus.Publish(ctx, conn.JS, out); err != nil {
		t.Fatal(err)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	kills := 0
	deadline := time.Now().Add(2 * time.Minute)
	for {
		bound := countBindings(t, conn)
		if len(bound) == deployments*replicas {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d pods bound after %d kills", len(bound), deployments*replicas, kills)
		}
		sctx, kill := context.WithCancel(ctx)
		r := runner.New(scheduler.New(), conn.JS, log, runner.Config{Resync: 50 * time.Millisecond})
		done := make(chan struct{})
		go func() { defer close(done); _ = r.Run(sctx) }()
		// Let it run for a random while, at most 400 ms, then kill it; after
		// five kills let it finish.
		if kills < 5 {
			time.Sleep(time.Duration(50+rng.IntN(350)) * time.Millisecond) // the kill point, not synchronization
			kill()
			<-done
			kills++
			continue
		}
		for time.Now().Before(deadline) && len(countBindings(t, conn)) < deployments*replicas {
			time.Sleep(100 * time.Millisecond) // polling interval
		}
		kill()
		<-done
	}
	bound := countBindings(t, conn)
	for pod, n := range bound {
		if n != 1 {
			t.Errorf("pod %s bound %d times", pod, n)
		}
	}
	if kills < 5 {
		t.Errorf("the scheduler was killed %d times, want 5", kills)
	}
}

func publishHeartbeat(t *testing.T, conn *bus.Conn, node string) {
	t.Helper()
	info := events.NodeInfo{Name: node, Capacity: map[string]int64{"cpu": 64000, "memory": 256 << 30, "pods": 500},
		Allocatable: map[string]int64{"cpu": 64000, "memory": 256 << 30, "pods": 500}, Runtime: "simulated",
		Labels: map[string]string{"kubernetes.io/hostname": node}}
	env, err := events.Seal(&events.NodeHeartbeat{Node: info}, events.Meta{ID: events.NewID(), Source: "node/" + node, Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.PublishOne(context.Background(), conn.JS, bus.Outgoing{Subject: events.HeartbeatSubject(node), Envelope: env}); err != nil {
		t.Fatal(err)
	}
}

func intentFor(t *testing.T, name string, replicas int) bus.Outgoing {
	t.Helper()
	obj := fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":%q,"namespace":"default"},`+
		`"spec":{"replicas":%d,"selector":{"matchLabels":{"app":%q}},"template":{"metadata":{"labels":{"app":%q}},`+
		`"spec":{"containers":[{"name":"web","image":"gantry.local/hello:v1","resources":{"requests":{"cpu":"10m","memory":"16Mi"}}}]}}}}`,
		name, replicas, name, name)
	id := events.NewID()
	env, err := events.Seal(&events.IntentApplied{Kind: "deployment", Namespace: "default", Name: name, Object: []byte(obj)},
		events.Meta{ID: id, Source: "cli", Subject: "default/" + name, Time: time.Now(), Actor: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	return bus.Outgoing{Subject: events.IntentSubject("default", "deployment", name), Envelope: env, MsgID: id}
}

// countBindings counts the bindings stored per pod: the messages on each
// gantry.node.<node>.pod.<ns>.<pod> subject (no pod is deleted here, so
// every message there is a PodBound), summed over nodes by pod.
func countBindings(t *testing.T, conn *bus.Conn) map[string]int {
	t.Helper()
	out := map[string]int{}
	for subject, n := range subjects(t, conn, events.SubjectNodePodAll) {
		tok := strings.Split(subject, ".") // gantry.node.<node>.pod.<ns>.<pod>
		out[tok[4]+"/"+tok[5]] += int(n)
	}
	return out
}
