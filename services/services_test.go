package services_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node"
	"github.com/gantry-sh/gantry/node/sim"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services"
	"github.com/gantry-sh/gantry/services/runner"
)

// cluster is a control plane on an in-process NATS server plus simulated
// node agents.
type cluster struct {
	t    *testing.T
	conn *bus.Conn
	url  string
	rts  map[string]*sim.Runtime
	log  zerolog.Logger
}

func startCluster(t *testing.T, nodes ...string) *cluster {
	t.Helper()
	return startClusterOf(t, nil, nodes...)
}

// startPlane runs the named services (all when none) with cfg (its
// runner resyncing every 100 ms unless it says otherwise) on a log of
// their own, with no node; ctx ends with the test.
func startPlane(t *testing.T, names []string, cfg services.Config) (*cluster, context.Context) {
	t.Helper()
	conn, url := bustest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	if cfg.Runner.Resync == 0 {
		cfg.Runner.Resync = 100 * time.Millisecond
	}
	plane, err := services.Start(ctx, conn, names, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := plane.WaitReady(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return &cluster{t: t, conn: conn, url: url, rts: map[string]*sim.Runtime{}, log: log}, ctx
}

// startClusterOf runs the named services (all when none) and the nodes.
func startClusterOf(t *testing.T, names []string, nodes ...string) *cluster {
	t.Helper()
	c, ctx := startPlane(t, names, services.Config{})
	log := c.log
	var ready []chan struct{}
	for _, n := range nodes {
		ready = append(ready, c.addNode(ctx, n, log))
	}
	// Every node has registered and heartbeated before the test asks for
	// pods, so placement does not depend on which agent started first.
	for i, r := range ready {
		select {
		case <-r:
		case <-time.After(10 * time.Second):
			t.Fatalf("node %s not ready", nodes[i])
		}
	}
	return c
}

// addNode starts a node agent on the simulated runtime; the channel closes
// once it has registered, heartbeated and follows its decisions.
func (c *cluster) addNode(ctx context.Context, name string, log zerolog.Logger) chan struct{} {
	return c.addNodeCIDR(ctx, name, fmt.Sprintf("10.42.%d.0/24", len(c.rts)), log)
}

// addNodeCIDR is addNode with the node's pod CIDR.
func (c *cluster) addNodeCIDR(ctx context.Context, name, cidr string, log zerolog.Logger) chan struct{} {
	return c.addNodeVia(ctx, name, cidr, c.url, log)
}

// addNodeVia is addNodeCIDR with the NATS URL the agent dials (a
// bustest.Partition's, to cut it off).
func (c *cluster) addNodeVia(ctx context.Context, name, cidr, url string, log zerolog.Logger) chan struct{} {
	return c.addSimNode(ctx, name, sim.Config{MilliCPU: 4000, Memory: 8 << 30, PodCIDR: cidr,
		MissingImages: map[string]bool{"gantry.local/missing:v1": true}}, url, log)
}

// addSimNode starts a node agent on a simulated runtime of cfg (its pod
// CIDR cfg.PodCIDR) that dials url.
func (c *cluster) addSimNode(ctx context.Context, name string, cfg sim.Config, url string, log zerolog.Logger) chan struct{} {
	cidr := cfg.PodCIDR
	rt, err := sim.New(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	c.rts[name] = rt
	nc, err := bus.Connect(url, "node-"+name)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(nc.Close)
	ready := make(chan struct{})
	a := node.New(node.Config{Name: name, PodCIDR: cidr, HeartbeatEvery: time.Second, ResyncEvery: 100 * time.Millisecond,
		BackoffBase: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond, Ready: func() { close(ready) }}, rt, nc, log)
	go a.Run(ctx)
	return ready
}

// runKilled runs s on the cluster's log until stop returns, then kills it
// (its context cancelled: what it had not stored is lost, as with kill -9)
// and waits for it to end.
func (c *cluster) runKilled(ctx context.Context, s runner.Service, cfg runner.Config, stop func()) {
	rctx, kill := context.WithCancel(ctx)
	done := make(chan struct{})
	r := runner.New(s, c.conn.JS, c.log, cfg)
	go func() { defer close(done); _ = r.Run(rctx) }()
	stop()
	kill()
	<-done
}

// submit appends an intent the way the CLI does and returns its id.
func (c *cluster) submit(subject string, ev events.Event) string {
	c.t.Helper()
	id := events.NewID()
	env, err := events.Seal(ev, events.Meta{ID: id, Source: "cli", Subject: subject, Time: time.Now(), Actor: "tester"})
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := bus.PublishOne(context.Background(), c.conn.JS, bus.Outgoing{Subject: subject, Envelope: env, MsgID: id}); err != nil {
		c.t.Fatal(err)
	}
	return id
}

func (c *cluster) apply(yaml string) string {
	c.t.Helper()
	docs, err := manifest.SplitDocuments(strings.NewReader(yaml))
	if err != nil || len(docs) != 1 {
		c.t.Fatalf("split: %v (%d docs)", err, len(docs))
	}
	d := docs[0]
	kind := strings.ToLower(d.Kind)
	ns := d.Namespace
	if ns == "" {
		ns = "default"
	}
	return c.submit(events.IntentSubject(ns, kind, d.Name), &events.IntentApplied{Kind: kind, Namespace: ns, Name: d.Name, Object: d.JSON})
}

// verdict waits for admission's answer to an intent.
func (c *cluster) verdict(intentID string) events.Event {
	c.t.Helper()
	var out events.Event
	c.eventually("verdict for "+intentID, func() bool {
		for _, r := range append(c.records(events.StreamDecisions, events.SubjectAdmissionAll), c.records(events.StreamDecisions, events.SubjectNodeDecisionAll)...) {
			switch e := r.Event.(type) {
			case *events.AdmissionAccepted:
				if e.IntentID == intentID {
					out = e
				}
			case *events.AdmissionRejected:
				if e.IntentID == intentID {
					out = e
				}
			case *events.NodeCordoned:
				if e.IntentID == intentID {
					out = e
				}
			}
		}
		return out != nil
	})
	return out
}

func (c *cluster) records(stream string, filter string) []events.Record {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	last, err := bus.LastSeq(ctx, c.conn.JS, stream, filter)
	if err != nil || last == 0 {
		return nil
	}
	cons, err := c.conn.JS.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		c.t.Fatal(err)
	}
	var out []events.Record
	for {
		m, err := cons.Next(jetstream.FetchMaxWait(time.Second))
		if err != nil {
			c.t.Fatalf("read %s: %v", stream, err)
		}
		md, _ := m.Metadata()
		env, err := events.Parse(m.Data())
		if err != nil {
			c.t.Fatal(err)
		}
		ev, err := env.Decode()
		if err != nil {
			c.t.Fatal(err)
		}
		out = append(out, events.Record{Stream: stream, Subject: m.Subject(), Seq: md.Sequence.Stream, Envelope: env, Event: ev})
		if md.Sequence.Stream >= last {
			return out
		}
	}
}

// pods reads the pods read model.
func (c *cluster) pods() []projections.Pod {
	c.t.Helper()
	ctx := context.Background()
	kv, err := c.conn.JS.KeyValue(ctx, bus.BucketPods)
	if err != nil {
		c.t.Fatal(err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	var out []projections.Pod
	for k := range keys.Keys() {
		e, err := kv.Get(ctx, k)
		if err != nil {
			continue
		}
		var p projections.Pod
		if err := json.Unmarshal(e.Value(), &p); err != nil {
			c.t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func (c *cluster) eventually(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronization
	}
}

// ownedBy reports a pod of the workload named owner: its own, or (a
// Deployment's) one of its ReplicaSet <owner>-<template hash>.
func ownedBy(p *projections.Pod, owner string) bool {
	if p.Owner == nil {
		return false
	}
	hash, ok := strings.CutPrefix(p.Owner.Name, owner+"-")
	return p.Owner.Name == owner || p.Owner.Kind == "replicaset" && ok && len(hash) == manifest.TemplateHashLength
}

func running(ps []projections.Pod, owner string) []projections.Pod {
	var out []projections.Pod
	for _, p := range ps {
		if ownedBy(&p, owner) && !p.Deleting && p.Phase() == events.PhaseRunning && p.Status.PodIP != "" {
			out = append(out, p)
		}
	}
	return out
}

func deployment(name string, replicas int, image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
spec:
  replicas: %d
  selector:
    matchLabels: {app: %s}
  template:
    metadata:
      labels: {app: %s}
    spec:
      containers:
        - name: web
          image: %s
          resources:
            requests: {cpu: 100m, memory: 64Mi}
`, name, replicas, name, name, image)
}

func TestApplyToRunningThroughTheLog(t *testing.T) {
	c := startCluster(t, "node-a", "node-b")
	id := c.apply(deployment("hello", 3, "gantry.local/hello:v1"))
	v, ok := c.verdict(id).(*events.AdmissionAccepted)
	if !ok {
		t.Fatalf("verdict: want accepted, got %#v", v)
	}
	if v.Generation != 1 || v.UID == "" {
		t.Fatalf("accepted: generation %d uid %q", v.Generation, v.UID)
	}
	c.eventually("3 running pods", func() bool { return len(running(c.pods(), "hello")) == 3 })
	ips, nodes := map[string]bool{}, map[string]int{}
	for _, p := range running(c.pods(), "hello") {
		ips[p.Status.PodIP] = true
		nodes[p.Node]++
		if p.CorrelationID != id {
			t.Errorf("pod %s: correlation %q, want the intent %q", p.Name, p.CorrelationID, id)
		}
	}
	if len(ips) != 3 {
		t.Errorf("pod IPs not distinct: %v", ips)
	}
	if nodes["node-a"] == 0 || nodes["node-b"] == 0 {
		t.Errorf("pods not spread over both nodes: %v", nodes)
	}

	// Scale up by applying again.
	id = c.apply(deployment("hello", 5, "gantry.local/hello:v1"))
	if v := c.verdict(id).(*events.AdmissionAccepted); v.Generation != 2 {
		t.Fatalf("generation after scale: %d", v.Generation)
	}
	c.eventually("5 running pods", func() bool { return len(running(c.pods(), "hello")) == 5 })

	// The same manifest again changes nothing.
	id = c.apply(deployment("hello", 5, "gantry.local/hello:v1"))
	if v := c.verdict(id).(*events.AdmissionAccepted); !v.Unchanged || v.Generation != 2 {
		t.Fatalf("re-apply: unchanged=%v generation=%d", v.Unchanged, v.Generation)
	}

	// Delete: every pod is stopped on its node and leaves the read model.
	id = c.submit(events.IntentSubject("default", "deployment", "hello"), &events.IntentDeleted{Kind: "deployment", Namespace: "default", Name: "hello"})
	if _, ok := c.verdict(id).(*events.AdmissionAccepted); !ok {
		t.Fatal("delete not accepted")
	}
	c.eventually("no pods", func() bool { return len(c.pods()) == 0 })
	for name, rt := range c.rts {
		ps, _ := rt.Pods(context.Background())
		if len(ps) != 0 {
			t.Errorf("node %s still runs %d pods", name, len(ps))
		}
	}
}

func TestBadInputIsRejectedAndTheClusterKeepsWorking(t *testing.T) {
	c := startCluster(t, "node-a")
	cases := []struct {
		name, yaml, want string
	}{
		{"negative replicas", deployment("neg", -1, "gantry.local/hello:v1"), "spec.replicas"},
		{"unknown field", strings.Replace(deployment("unk", 1, "gantry.local/hello:v1"), "          resources:", "          workingDir: /srv\n          resources:", 1), "spec.template.spec.containers[0].workingDir: not supported yet"},
		{"selector mismatch", strings.Replace(deployment("sel", 1, "gantry.local/hello:v1"), "matchLabels: {app: sel}", "matchLabels: {app: other}", 1), "spec.selector"},
		{"bad quantity", strings.Replace(deployment("qty", 1, "gantry.local/hello:v1"), "memory: 64Mi", "memory: 64Mx", 1), "memory"},
	}
	for _, tc := range cases {
		id := c.apply(tc.yaml)
		r, ok := c.verdict(id).(*events.AdmissionRejected)
		if !ok {
			t.Errorf("%s: not rejected", tc.name)
			continue
		}
		if !strings.Contains(strings.Join(r.Reasons, "\n"), tc.want) {
			t.Errorf("%s: reasons %q do not mention %q", tc.name, r.Reasons, tc.want)
		}
	}
	// Deleting what does not exist is rejected, not an error loop.
	id := c.submit(events.IntentSubject("default", "deployment", "ghost"), &events.IntentDeleted{Kind: "deployment", Namespace: "default", Name: "ghost"})
	if _, ok := c.verdict(id).(*events.AdmissionRejected); !ok {
		t.Error("delete of a missing deployment not rejected")
	}

	// A missing image shows in the pod's status; nothing crashes.
	c.verdict(c.apply(deployment("missing", 1, "gantry.local/missing:v1")))
	c.eventually("ErrImagePull in status", func() bool {
		for _, p := range c.pods() {
			if ownedBy(&p, "missing") && p.Status != nil && len(p.Status.Containers) == 1 {
				r := p.Status.Containers[0].Reason
				if r == "ErrImagePull" || r == "ImagePullBackOff" {
					return true
				}
			}
		}
		return false
	})
	// And a good deployment still runs.
	c.verdict(c.apply(deployment("good", 2, "gantry.local/hello:v1")))
	c.eventually("2 running pods", func() bool { return len(running(c.pods(), "good")) == 2 })
}

func TestUnschedulableSaysWhy(t *testing.T) {
	c := startCluster(t, "node-a")
	huge := strings.Replace(deployment("huge", 1, "gantry.local/hello:v1"), "memory: 64Mi", "memory: 64Gi", 1)
	c.verdict(c.apply(huge))
	c.eventually("unschedulable message", func() bool {
		for _, p := range c.pods() {
			if ownedBy(&p, "huge") && p.Unschedulable == "0/1 nodes are available: 1 Insufficient memory." {
				return true
			}
		}
		return false
	})
}

func TestCrashedContainerIsRestarted(t *testing.T) {
	c := startCluster(t, "node-a")
	c.verdict(c.apply(deployment("crash", 1, "gantry.local/hello:v1")))
	var p projections.Pod
	c.eventually("running", func() bool {
		ps := running(c.pods(), "crash")
		if len(ps) == 1 {
			p = ps[0]
		}
		return len(ps) == 1
	})
	c.rts["node-a"].Exit(p.UID, "web", 1)
	c.eventually("restart counted", func() bool {
		for _, q := range running(c.pods(), "crash") {
			if q.UID == p.UID && q.Status.Containers[0].RestartCount >= 1 && q.Status.Containers[0].State == events.ContainerRunning {
				return true
			}
		}
		return false
	})
}

func TestCordonedNodeTakesNoNewPods(t *testing.T) {
	c := startCluster(t, "node-a", "node-b")
	c.verdict(c.apply(deployment("before", 4, "gantry.local/hello:v1")))
	c.eventually("4 running pods", func() bool { return len(running(c.pods(), "before")) == 4 })
	onA := 0
	for _, p := range running(c.pods(), "before") {
		if p.Node == "node-a" {
			onA++
		}
	}
	id := c.submit(events.IntentSubject(events.ClusterScope, "node", "node-a"), &events.IntentCordon{Node: "node-a", Unschedulable: true})
	if v, ok := c.verdict(id).(*events.NodeCordoned); !ok || !v.Unschedulable {
		t.Fatalf("cordon verdict: %#v", v)
	}
	c.verdict(c.apply(deployment("after", 4, "gantry.local/hello:v1")))
	c.eventually("4 more running pods", func() bool { return len(running(c.pods(), "after")) == 4 })
	for _, p := range running(c.pods(), "after") {
		if p.Node == "node-a" {
			t.Errorf("pod %s placed on the cordoned node", p.Name)
		}
	}
	stillOnA := 0
	for _, p := range running(c.pods(), "before") {
		if p.Node == "node-a" {
			stillOnA++
		}
	}
	if stillOnA != onA {
		t.Errorf("cordon moved running pods: %d on node-a before, %d after", onA, stillOnA)
	}
}

func TestSchedulingBadInput(t *testing.T) {
	c := startCluster(t, "node-a")
	base := deployment("bad", 1, "gantry.local/hello:v1")
	withAnnotation := func(rule string) string {
		return strings.Replace(base, "      labels: {app: bad}\n    spec:", "      labels: {app: bad}\n      annotations:\n        gantry.dev/placement: \""+rule+"\"\n    spec:", 1)
	}
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown resource", strings.Replace(base, "requests: {cpu: 100m, memory: 64Mi}", "requests: {cpu: 100m, memory: 64Mi, gpu: 1}", 1), "gpu"},
		{"malformed CEL", withAnnotation("node.labels[ == 'a'"), "gantry.dev/placement"},
		{"runaway CEL", withAnnotation("node.labels.all(a, node.labels.all(b, node.labels.all(c, node.labels.all(d, a + b + c + d != ''))))"), "too expensive"},
		{"negative priority", strings.Replace(base, "      containers:", "      priority: -3\n      containers:", 1), "spec.template.spec.priority: must be >= 0"},
	}
	for _, tc := range cases {
		r, ok := c.verdict(c.apply(tc.yaml)).(*events.AdmissionRejected)
		if !ok {
			t.Errorf("%s: not rejected", tc.name)
			continue
		}
		if got := strings.Join(r.Reasons, "\n"); !strings.Contains(got, tc.want) {
			t.Errorf("%s: reasons %q do not mention %q", tc.name, got, tc.want)
		}
	}
	// A request above any node's capacity is valid input: the pod waits with
	// a reason, and the scheduler does not loop on it.
	huge := strings.Replace(base, "requests: {cpu: 100m, memory: 64Mi}", "requests: {cpu: 500, memory: 64Mi}", 1)
	c.verdict(c.apply(huge))
	c.eventually("insufficient cpu reason", func() bool {
		for _, p := range c.pods() {
			if ownedBy(&p, "bad") && p.Unschedulable == "0/1 nodes are available: 1 Insufficient cpu." {
				return true
			}
		}
		return false
	})
	before := len(c.records(events.StreamDecisions, events.SubjectPodDecAll))
	c.verdict(c.apply(deployment("other", 1, "gantry.local/hello:v1"))) // activity that wakes the scheduler
	c.eventually("the other pod runs", func() bool { return len(running(c.pods(), "other")) == 1 })
	if after := len(c.records(events.StreamDecisions, events.SubjectPodDecAll)); after-before > 2 {
		t.Errorf("the unschedulable pod was re-announced: %d new pod decisions", after-before)
	}
}
