package services_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/services/admission"
	"github.com/gantry-sh/gantry/services/replica"
	"github.com/gantry-sh/gantry/services/rollout"
	"github.com/gantry-sh/gantry/services/runner"
)

// Admission, the rollout service (a Deployment's ReplicaSet) and the
// replica, whose passes are assumed (decided again while earlier ones are
// still being stored), are killed together at random
// points while they judge 200 Deployments and plan their 20,000 pods, and
// started again, several times. In the end every Deployment has exactly one
// verdict and exactly its 100 pods, each planned once: an assumption lost
// with a killed process, or a pass decided before the last one was read
// back, planned no pod too many.
func TestKillingAdmissionAndReplicaPlansEveryPodOnce(t *testing.T) {
	const deployments, replicas = 200, 100
	conn, _ := bustest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	var out []bus.Outgoing
	for i := 0; i < deployments; i++ {
		out = append(out, intentFor(t, fmt.Sprintf("plan-%d", i), replicas))
	}
	if _, err := bus.Publish(ctx, conn.JS, out); err != nil {
		t.Fatal(err)
	}

	rng := rand.New(rand.NewPCG(3, 4))
	cfg := runner.Config{Resync: 50 * time.Millisecond}
	// run starts both, lets them run until stop returns, and kills them.
	run := func(stop func()) {
		rctx, kill := context.WithCancel(ctx)
		runners := []*runner.Runner{
			runner.New(admission.New(), conn.JS, log, cfg),
			runner.New(rollout.New(), conn.JS, log, cfg),
			runner.New(replica.New(), conn.JS, log, cfg),
		}
		done := make(chan struct{}, len(runners))
		for _, r := range runners {
			go func() { defer func() { done <- struct{}{} }(); _ = r.Run(rctx) }()
		}
		stop()
		kill()
		for range runners {
			<-done
		}
	}
	for range 5 { // killed at random points, mostly mid-judging or mid-planning (planning takes 1–2 s)
		run(func() { time.Sleep(time.Duration(20+rng.IntN(130)) * time.Millisecond) }) // the kill point, not synchronization
	}
	deadline := time.Now().Add(2 * time.Minute)
	run(func() {
		for time.Now().Before(deadline) && len(countPlans(t, conn)) < deployments*replicas {
			time.Sleep(100 * time.Millisecond) // polling interval
		}
	})
	plans := countPlans(t, conn)
	perDeployment := map[string]int{}
	for pod, n := range plans {
		if n != 1 {
			t.Errorf("pod %s has %d decisions, want its one plan: %s", pod, n, decisionTypes(t, conn, pod))
		}
		perDeployment[strings.Join(strings.Split(pod, "-")[:2], "-")]++ // default/plan-<i>-<hash>-<suffix>
	}
	for i := 0; i < deployments; i++ {
		if n := perDeployment[fmt.Sprintf("default/plan-%d", i)]; n != replicas {
			t.Errorf("deployment plan-%d has %d pods, want %d", i, n, replicas)
		}
	}
	if n := countMessages(t, conn, events.SubjectAdmissionAll); n != deployments {
		t.Errorf("%d verdicts for %d intents", n, deployments)
	}
}

// countPlans counts the decisions stored per pod subject
// (gantry.decision.pod.<ns>.<pod>), by ns/pod.
func countPlans(t *testing.T, conn *bus.Conn) map[string]int {
	t.Helper()
	out := map[string]int{}
	for subject, n := range subjects(t, conn, events.SubjectPodDecAll) {
		tok := strings.Split(subject, ".") // gantry.decision.pod.<ns>.<pod>
		out[tok[3]+"/"+tok[4]] += int(n)
	}
	return out
}

func countMessages(t *testing.T, conn *bus.Conn, filter string) int {
	t.Helper()
	total := 0
	for _, n := range subjects(t, conn, filter) {
		total += int(n)
	}
	return total
}

func subjects(t *testing.T, conn *bus.Conn, filter string) map[string]uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := conn.JS.Stream(ctx, events.StreamDecisions)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects
}

// decisionTypes lists the types of the decisions stored on a pod's subject.
func decisionTypes(t *testing.T, conn *bus.Conn, pod string) string {
	t.Helper()
	ns, name, _ := strings.Cut(pod, "/")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := conn.JS.OrderedConsumer(ctx, events.StreamDecisions, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.PodDecisionSubject(ns, name)}})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.FetchNoWait(10)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for m := range batch.Messages() {
		env, err := events.Parse(m.Data())
		if err != nil {
			t.Fatal(err)
		}
		md, _ := m.Metadata()
		out = append(out, fmt.Sprintf("%s id=%s msgid=%s seq=%d", env.Type, env.ID, m.Headers().Get("Nats-Msg-Id"), md.Sequence.Stream))
	}
	return strings.Join(out, "; ")
}
