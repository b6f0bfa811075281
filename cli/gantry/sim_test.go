package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/cli/client"
	"github.com/gantry-sh/gantry/cli/clitest"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services"
	"github.com/gantry-sh/gantry/services/runner"
)

func TestSimFlagsAreValidated(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--nodes", "0"}, "--nodes 0: want at least 1"},
		{[]string{"--nodes", "20000"}, "holds only 16384 /24 pod CIDRs"},
		{[]string{"--cpu", "lots"}, "--cpu: quantity \"lots\" must start with a number"},
		{[]string{"--cpu", "0"}, "--cpu 0: must be positive"},
		{[]string{"--memory", "12Qi"}, "--memory: quantity \"12Qi\": unknown suffix"},
		{[]string{"--pods", "0"}, "--pods 0: want at least 1"},
		{[]string{"--labels", "zone"}, "--labels \"zone\": want key=value"},
		{[]string{"--labels", "bad key=x"}, "--labels \"bad key=x\": invalid key \"bad key\""},
		{[]string{"--labels", "k=-x"}, "--labels \"k=-x\": invalid value \"-x\""},
		{[]string{"--taints", "gpu=yes"}, "--taints \"gpu=yes\": want key[=value]:Effect"},
		{[]string{"--taints", "gpu=yes:Sometimes"}, "effect \"Sometimes\": want NoSchedule, PreferNoSchedule or NoExecute"},
		{[]string{"--taints", "gpu:NoSchedule,gpu=x:NoSchedule"}, "given twice"},
		{[]string{"--name-prefix", "Sim"}, "--name-prefix"},
		{[]string{"--name-prefix", strings.Repeat("s", 60), "--nodes", "1000"}, "must be no more than 63 characters"},
		{[]string{"--start-delay", "-1s"}, "--start-delay -1s: must not be negative"},
		{[]string{"--heartbeat", "0s"}, "--heartbeat 0s: must be positive"},
		{[]string{"--conns", "0"}, "--conns 0: want at least 1"},
		{[]string{"--consumers", "both"}, "--consumers \"both\": want durable or shared"},
	}
	for _, tc := range cases {
		var out, errOut bytes.Buffer
		// An unreachable NATS: validation must fail before any dialing.
		code := run(append([]string{"sim", "--nats", "nats://127.0.0.1:1"}, tc.args...), strings.NewReader(""), &out, &errOut)
		if code == 0 || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("sim %v: exit %d, stderr %q; want an error containing %q", tc.args, code, errOut.String(), tc.want)
		}
	}
}

// TestSimNodesRunPods starts `gantry sim` with 20 nodes against an
// in-process control plane, in both consumer modes: the nodes register with
// distinct pod CIDRs and zones, and a deployment's pods get Running (after
// the simulated start delay) with distinct IPs.
func TestSimNodesRunPods(t *testing.T) {
	for _, mode := range []string{"shared", "durable"} {
		t.Run(mode, func(t *testing.T) { testSim(t, mode) })
	}
}

func testSim(t *testing.T, mode string) {
	conn, url := bustest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	plane, err := services.Start(ctx, conn, nil, services.Config{Runner: runner.Config{Resync: 100 * time.Millisecond}}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := plane.WaitReady(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}

	const nodes = 20
	out := &clitest.Buffer{}
	g := &client.Globals{Version: version, In: strings.NewReader(""), Out: out, ErrOut: out}
	root := newRoot(g)
	root.SetArgs([]string{"sim", "--nats", url, "--log-level", "warn", "--nodes", fmt.Sprint(nodes), "--name-prefix", "t" + mode,
		"--cpu", "4", "--memory", "8Gi", "--pods", "10", "--labels", "pool=sim", "--taints", "sim=true:PreferNoSchedule",
		"--start-delay", "300ms", "--heartbeat", "1s", "--heartbeat-jitter", "200ms", "--resync", "200ms", "--conns", "3",
		"--start-parallel", "4", "--consumers", mode})
	root.SetOut(out)
	root.SetErr(out)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("gantry sim: %v\n%s", err, out.String())
			}
		case <-time.After(10 * time.Second):
			t.Errorf("gantry sim did not stop\n%s", out.String())
		}
		plane.Wait()
	})

	simEventually(t, out, "the sim's ready line", func() bool {
		return strings.Contains(out.String(), fmt.Sprintf("gantry sim: %d nodes ready", nodes))
	})
	var ns []projections.Node
	simEventually(t, out, "20 Ready nodes in the read model", func() bool {
		ns = kvAll[projections.Node](t, conn, bus.BucketNodes)
		ready := 0
		for _, n := range ns {
			if n.Ready(time.Now()) {
				ready++
			}
		}
		return ready == nodes
	})
	cidrs, zones := map[string]bool{}, map[string]int{}
	for _, n := range ns {
		if !strings.HasPrefix(n.Info.Name, "t"+mode+"-") || n.Info.Runtime != "simulated" {
			t.Errorf("node %s runtime %s", n.Info.Name, n.Info.Runtime)
		}
		cidrs[n.Info.PodCIDR] = true
		zones[n.Info.Labels["topology.kubernetes.io/zone"]]++
		if n.Info.Labels["pool"] != "sim" || n.Info.Capacity["cpu"] != 4000 || n.Info.Capacity["memory"] != 8<<30 || n.Info.Capacity["pods"] != 10 {
			t.Errorf("node %s: labels %v capacity %v", n.Info.Name, n.Info.Labels, n.Info.Capacity)
		}
		if len(n.Info.Taints) != 1 || n.Info.Taints[0].Key != "sim" || n.Info.Taints[0].Effect != "PreferNoSchedule" {
			t.Errorf("node %s: taints %v", n.Info.Name, n.Info.Taints)
		}
	}
	if len(cidrs) != nodes || !cidrs["100.64.0.0/24"] || !cidrs["100.64.19.0/24"] {
		t.Errorf("pod CIDRs not one /24 each from 100.64.0.0: %v", cidrs)
	}
	if zones["a"] != 7 || zones["b"] != 7 || zones["c"] != 6 {
		t.Errorf("zones: %v, want 7 a, 7 b, 6 c", zones)
	}

	manifest := strings.ReplaceAll(deploymentYAML, "REPLICAS", "40")
	var aout, aerr bytes.Buffer
	if code := run([]string{"apply", "--nats", url, "-f", "-"}, strings.NewReader(manifest), &aout, &aerr); code != 0 {
		t.Fatalf("apply: %s%s", aout.String(), aerr.String())
	}
	var pods []projections.Pod
	simEventually(t, out, "40 Running pods", func() bool {
		pods = kvAll[projections.Pod](t, conn, bus.BucketPods)
		n := 0
		for _, p := range pods {
			if p.Status != nil && p.Phase() == events.PhaseRunning && p.Status.PodIP != "" {
				n++
			}
		}
		return n == 40
	})
	ips, perNode := map[string]bool{}, map[string]int{}
	for _, p := range pods {
		ips[p.Status.PodIP] = true
		perNode[p.Node]++
		if !strings.HasPrefix(p.Status.PodIP, "100.64.") {
			t.Errorf("pod %s ip %s outside 100.64.0.0/10", p.Name, p.Status.PodIP)
		}
	}
	if len(ips) != 40 {
		t.Errorf("pod IPs not distinct: %d for 40 pods", len(ips))
	}
	if len(perNode) < 10 {
		t.Errorf("pods on %d nodes only: %v", len(perNode), perNode)
	}

	// The start delay shows: each pod was reported waiting (ContainerCreating)
	// before it was reported Running, and not sooner than the delay after.
	pending, running := map[string]time.Time{}, map[string]time.Time{}
	for _, r := range streamRecords(t, conn, events.StreamObservations, events.SubjectObsPodAll) {
		st, ok := r.Event.(*events.PodStatusObserved)
		if !ok {
			continue
		}
		switch {
		case st.Phase == events.PhasePending && len(st.Containers) == 1 && st.Containers[0].Reason == "ContainerCreating":
			if _, seen := pending[st.Name]; !seen {
				pending[st.Name] = r.Envelope.Time
			}
		case st.Phase == events.PhaseRunning:
			if _, seen := running[st.Name]; !seen {
				running[st.Name] = r.Envelope.Time
			}
		}
	}
	for name, at := range running {
		p, ok := pending[name]
		if !ok {
			t.Errorf("pod %s: Running without a ContainerCreating report first", name)
			continue
		}
		if d := at.Sub(p); d < 250*time.Millisecond {
			t.Errorf("pod %s: Running %s after ContainerCreating, want about the 300ms start delay", name, d)
		}
	}

	if mode == "durable" {
		st, err := conn.JS.Stream(ctx, events.StreamDecisions)
		if err != nil {
			t.Fatal(err)
		}
		for i := range nodes {
			if _, err := st.Consumer(ctx, fmt.Sprintf("node-tdurable-%d", i)); err != nil {
				t.Errorf("durable consumer of node %d: %v", i, err)
			}
		}
	}
}

const deploymentYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: REPLICAS
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: gantry.local/hello:v1
          resources:
            requests: {cpu: 100m, memory: 64Mi}
`

func simEventually(t *testing.T, out *clitest.Buffer, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\n%s", what, out.String())
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not synchronization
	}
}

// kvAll decodes every record of a read-model bucket.
func kvAll[T any](t *testing.T, conn *bus.Conn, bucket string) []T {
	t.Helper()
	ctx := context.Background()
	kv, err := conn.JS.KeyValue(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []T
	for k := range keys.Keys() {
		e, err := kv.Get(ctx, k)
		if err != nil {
			continue
		}
		var v T
		if err := json.Unmarshal(e.Value(), &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// streamRecords reads every record of a stream matching filter.
func streamRecords(t *testing.T, conn *bus.Conn, stream, filter string) []events.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	last, err := bus.LastSeq(ctx, conn.JS, stream, filter)
	if err != nil || last == 0 {
		return nil
	}
	cons, err := conn.JS.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		t.Fatal(err)
	}
	var out []events.Record
	for {
		m, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
		if err != nil {
			t.Fatalf("read %s: %v", stream, err)
		}
		md, _ := m.Metadata()
		env, err := events.Parse(m.Data())
		if err != nil {
			t.Fatal(err)
		}
		ev, err := env.Decode()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, events.Record{Stream: stream, Subject: m.Subject(), Seq: md.Sequence.Stream, Envelope: env, Event: ev})
		if md.Sequence.Stream >= last {
			return out
		}
	}
}
