package bus_test

import (
	"context"
	"fmt"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// BenchmarkLogPerPod stores, with nothing deciding and nothing reading,
// what the log holds for each pod B1 binds, the way Gantry stores it:
// the replica's plan, the scheduler's binding with its copy on the node's
// subject (expecting the plan's sequence), the node's Running report, and
// read-model records in gantry_pods, each kind in atomic batches of up to
// 1,000 messages, 8 chunks of 500 pods in flight. It is the ceiling the
// embedded server puts on B1 on this machine: the services, the simulated
// nodes and the consumers all come on top. b.N is pods (run it with
// -benchtime 50000x); it reports pods/s and the process's CPU per pod
// (server and publishers; the messages are encoded before the clock starts).
func BenchmarkLogPerPod(b *testing.B) {
	for _, c := range []struct {
		name string
		copy bool // the binding's copy on the node's subject
		kv   int  // read-model records per pod
	}{
		{"b1", true, 2},
		{"no-node-copy", false, 2},
		{"no-read-model", true, 0},
		{"plan-and-binding", false, 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			conn, _ := bustest.Start(b)
			ctx := context.Background()
			pods := perPodMessages(b, b.N, c.copy, c.kv)
			cpu0 := processCPU()
			b.ResetTimer()
			start := time.Now()
			inWriters(b, pods, 500, 8, func(ps []podMessages) error { return storePods(ctx, conn, ps) })
			wall := time.Since(start)
			b.StopTimer()
			cpu := processCPU() - cpu0
			b.ReportMetric(float64(b.N)/wall.Seconds(), "pods/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/pod")
		})
	}
}

// podMessages is what the log holds for one pod, encoded.
type podMessages struct {
	plan    *nats.Msg
	binding []*nats.Msg // the binding, and its copy; expectation set once the plan is stored
	report  *nats.Msg
	kv      []*nats.Msg
}

// storePods stores the plans of ps, then their bindings (expecting each
// plan's sequence), then the reports and the read-model records.
func storePods(ctx context.Context, conn *bus.Conn, ps []podMessages) error {
	var plans, bindings, reports, kv []*nats.Msg
	for _, p := range ps {
		plans = append(plans, p.plan)
	}
	_, last, err := bus.PublishAtomicMsgs(ctx, conn.JS, plans)
	if err != nil {
		return fmt.Errorf("plans: %w", err)
	}
	for i, p := range ps {
		// An atomic batch is stored at consecutive sequences.
		p.binding[0].Header.Set(events.HeaderExpectedLastSubjSeq, strconv.FormatUint(last-uint64(len(ps)-1-i), 10))
		bindings = append(bindings, p.binding...)
		reports = append(reports, p.report)
		kv = append(kv, p.kv...)
	}
	for _, step := range []struct {
		what string
		msgs []*nats.Msg
	}{{"bindings", bindings}, {"reports", reports}, {"read model", kv}} {
		for len(step.msgs) > 0 {
			n := min(len(step.msgs), bus.MaxBatch)
			if _, _, err := bus.PublishAtomicMsgs(ctx, conn.JS, step.msgs[:n]); err != nil {
				return fmt.Errorf("%s: %w", step.what, err)
			}
			step.msgs = step.msgs[n:]
		}
	}
	return nil
}

// perPodMessages encodes n pods of B1's Deployments (one container, 100m
// CPU, 64Mi), bound across 5,000 nodes.
func perPodMessages(t testing.TB, n int, withCopy bool, kvRecords int) []podMessages {
	t.Helper()
	cpu, _ := manifest.ParseQuantity("100m")
	mem, _ := manifest.ParseQuantity("64Mi")
	seal := func(e events.Event, id string) []byte {
		env, err := events.Seal(e, events.Meta{ID: id, Source: "bench", Subject: "default/pod", Time: time.Now(),
			Actor: "bench", CausationID: "intent-" + id, CorrelationID: "intent-" + id})
		if err != nil {
			t.Fatal(err)
		}
		data, err := env.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	msg := func(subject, id string, data []byte) *nats.Msg {
		m := nats.NewMsg(subject)
		m.Data = data
		m.Header.Set(events.HeaderMsgID, id)
		return m
	}
	out := make([]podMessages, n)
	for i := range out {
		name := fmt.Sprintf("b1-%d-%05x", i/100, i)
		uid := fmt.Sprintf("uid-%d-%d", i/100, i%100)
		node := fmt.Sprintf("sim-%04d", i%5000)
		plan := events.PodPlanned{Namespace: "default", Name: name, UID: uid,
			Owner:        &events.OwnerRef{Kind: "Deployment", Name: fmt.Sprintf("b1-%d", i/100), UID: fmt.Sprintf("w-%d", i/100)},
			TemplateHash: "5f7c9d", Labels: map[string]string{"app": fmt.Sprintf("b1-%d", i/100)},
			Spec: manifest.PodSpec{Containers: []manifest.Container{{Name: "web", Image: "gantry.local/demo:latest",
				Resources: manifest.ResourceRequirements{Requests: manifest.ResourceList{"cpu": cpu, "memory": mem}}}}}}
		p := podMessages{plan: msg(events.PodDecisionSubject("default", name), "plan/"+uid, seal(&plan, "plan/"+uid))}
		p.plan.Header.Set(events.HeaderExpectedLastSubjSeq, "0")
		bound := events.PodBound{Pod: plan, Node: node, Epoch: 1, Feasible: 250,
			Filters: []string{"NodeReady", "NodeUnschedulable", "TaintToleration", "NodeAffinity", "PlacementRule", "PodCount", "ResourceFit", "HostPorts", "PodAntiAffinity", "TopologySpread"},
			Scores:  []events.Score{{Name: "binpack", Score: 37}, {Name: "WorkloadSpread", Score: 100}}}
		bdata := seal(&bound, "bind/"+uid+"/1")
		p.binding = []*nats.Msg{msg(events.PodDecisionSubject("default", name), "bind/"+uid+"/1", bdata)}
		if withCopy {
			p.binding = append(p.binding, msg(events.NodePodSubject(node, "default", name), "bind/"+uid+"/1/copy", bdata))
		}
		report := events.PodStatusObserved{Namespace: "default", Name: name, UID: uid, Node: node, Epoch: 1, Phase: "Running",
			PodIP: "10.88.0.7", Containers: []events.ContainerStatus{{Name: "web", ContainerID: "sim-" + uid, Image: "gantry.local/demo:latest", State: "running"}}}
		p.report = msg(events.ObsPodSubject(node, "default", name), "obs/"+uid+"/1/Running", seal(&report, "obs/"+uid))
		rec := projections.Pod{Namespace: "default", Name: name, UID: uid, Owner: plan.Owner, TemplateHash: plan.TemplateHash,
			Labels: plan.Labels, Spec: plan.Spec, CreatedAt: time.Now(), PlannedSeq: uint64(i), PlannedID: "plan/" + uid,
			CorrelationID: "intent", Actor: "bench", Node: node, Epoch: 1, Filters: bound.Filters, Scores: bound.Scores, Feasible: 250}
		data, err := events.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		for range kvRecords {
			m := nats.NewMsg("$KV." + bus.BucketPods + ".default." + name)
			m.Data = data
			p.kv = append(p.kv, m)
		}
		out[i] = p
	}
	return out
}

// processCPU is the CPU time this process has used (user and system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
