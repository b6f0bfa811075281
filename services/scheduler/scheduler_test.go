package scheduler_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/runner"
	"github.com/gantry-sh/gantry/services/scheduler"
)

const ns = "default"

// deployment is a Deployment whose pods request cpu and memory.
func deployment(name string, replicas int32, cpu, memory string) manifest.Object {
	d := pt.Deployment(ns, name, replicas, "nginx:1.27")
	d.Deployment().Template.Spec = pt.Requests(d.Deployment().Template.Spec, cpu, memory)
	return d
}

// --- the decider ---

type world struct {
	t   testing.TB
	l   *pt.Log
	svc *scheduler.Service
	c   *projections.Cluster
	n   int // pods planned so far
}

func newWorld(t testing.TB, cfg ...scheduler.Config) *world {
	return &world{t: t, l: pt.NewLog(), svc: scheduler.New(cfg...), c: projections.NewCluster()}
}

// nodeInfo is pt.NodeInfo shaped by options.
func nodeInfo(name string, milliCPU, memory, pods int64, opts ...func(*events.NodeInfo)) events.NodeInfo {
	i := pt.NodeInfo(name, milliCPU, memory, pods)
	for _, o := range opts {
		o(&i)
	}
	return i
}

func withLabels(kv ...string) func(*events.NodeInfo) {
	return func(i *events.NodeInfo) {
		i.Labels = map[string]string{}
		for k := 0; k+1 < len(kv); k += 2 {
			i.Labels[kv[k]] = kv[k+1]
		}
	}
}

func withTaints(ts ...manifest.Taint) func(*events.NodeInfo) {
	return func(i *events.NodeInfo) { i.Taints = ts }
}

func withResource(name string, v int64) func(*events.NodeInfo) {
	return func(i *events.NodeInfo) {
		i.Allocatable = maps.Clone(i.Allocatable)
		i.Allocatable[name] = v
		i.Capacity = i.Allocatable
	}
}

// cordon appends admission's NodeCordoned.
func (w *world) cordon(node string, unschedulable bool) {
	w.apply(w.l.Append(events.NodeDecisionSubject(node), &events.NodeCordoned{Node: node, Unschedulable: unschedulable}))
}

// shaped is a Deployment whose pod template spec f changes.
func shaped(name string, replicas int32, cpu, memory string, f func(*manifest.PodSpec)) manifest.Object {
	d := deployment(name, replicas, cpu, memory)
	if f != nil {
		f(&d.Deployment().Template.Spec)
	}
	return d
}

func withPriority(p int32) func(*manifest.PodSpec) {
	return func(s *manifest.PodSpec) { s.Priority = &p }
}

// bound plans n pods of dep and binds them to node, as if scheduled earlier.
func (w *world) bound(dep manifest.Object, uid, node string, n int) []events.PodPlanned {
	pods := w.pending(dep, uid, n)
	for _, p := range pods {
		w.apply(w.l.Bound(p, node, 1))
	}
	return pods
}

// storeBatch stores decisions as the runner does: an Atomic group all or
// none (every expectation is checked before any is stored), others one by
// one. It returns the groups the log refused.
func (w *world) storeBatch(ds []runner.Decision) (refused []string) {
	w.t.Helper()
	groups := map[string][]runner.Decision{}
	var order []string
	for _, d := range ds {
		if d.Atomic == "" {
			w.store(d)
			continue
		}
		if _, ok := groups[d.Atomic]; !ok {
			order = append(order, d.Atomic)
		}
		groups[d.Atomic] = append(groups[d.Atomic], d)
	}
	for _, key := range order {
		ok := true
		for _, d := range groups[key] {
			if d.ExpectLastSeq != nil {
				on := d.ExpectOn
				if on == "" {
					on = d.Subject
				}
				if w.l.LastSeq(on) != *d.ExpectLastSeq {
					ok = false
				}
			}
		}
		if !ok {
			refused = append(refused, key)
			continue
		}
		for _, d := range groups[key] {
			w.store(d)
		}
	}
	return refused
}

func (w *world) apply(rs ...events.Record) {
	for _, r := range rs {
		w.svc.Apply(r)
		w.c.Apply(r)
	}
}

// heartbeat reports nodes alive now.
func (w *world) heartbeat(infos ...events.NodeInfo) {
	for _, i := range infos {
		w.apply(w.l.Heartbeat(i))
	}
}

// pending accepts dep and plans n of its pods.
func (w *world) pending(dep manifest.Object, uid string, n int) []events.PodPlanned {
	w.apply(w.l.Accepted(dep, uid, 1))
	var out []events.PodPlanned
	for i := 0; i < n; i++ {
		w.n++
		p := pt.PodFor(dep, uid, fmt.Sprintf("%s-%03d", dep.Metadata.Name, w.n), fmt.Sprintf("uid-%s-%d", dep.Metadata.Name, w.n))
		w.apply(w.l.Planned(p))
		out = append(out, p)
	}
	return out
}

func (w *world) decide() []runner.Decision {
	w.t.Helper()
	ds := w.svc.Decide(w.l.Now)
	if again := w.svc.Decide(w.l.Now); !reflect.DeepEqual(ds, again) {
		w.t.Fatalf("Decide is not repeatable:\n%s\n%s", show(ds), show(again))
	}
	return ds
}

func (w *world) store(d runner.Decision) events.Record {
	w.t.Helper()
	r, dup, err := w.l.Publish(d.Subject, d.Event, d.MsgID, d.ExpectLastSeq, d.ExpectOn)
	if err != nil || dup {
		w.t.Fatalf("the log refuses %s: dup %v, %v", d.MsgID, dup, err)
	}
	w.apply(r)
	return r
}

func (w *world) storeAll(ds []runner.Decision) {
	for _, d := range ds {
		w.store(d)
	}
}

func show(ds []runner.Decision) string {
	var b strings.Builder
	for _, d := range ds {
		e, _ := json.Marshal(d.Event)
		exp := "none"
		if d.ExpectLastSeq != nil {
			exp = fmt.Sprint(*d.ExpectLastSeq)
		}
		fmt.Fprintf(&b, "  %s msgid=%s expect=%s on=%q %.300s\n", d.Subject, d.MsgID, exp, d.ExpectOn, e)
	}
	return b.String()
}

type outcome struct {
	bound   map[string]string // pod → node
	perNode map[string]int
	unsched map[string]*events.PodUnschedulable
	evicted map[string]*events.PodDeleted
}

func outcomes(t testing.TB, ds []runner.Decision) outcome {
	t.Helper()
	o := outcome{bound: map[string]string{}, perNode: map[string]int{}, unsched: map[string]*events.PodUnschedulable{}}
	for _, d := range ds {
		switch e := d.Event.(type) {
		case *events.PodBound:
			if _, dup := o.bound[e.Pod.Name]; dup {
				t.Fatalf("pod %s bound twice in one pass", e.Pod.Name)
			}
			o.bound[e.Pod.Name] = e.Node
			o.perNode[e.Node]++
		case *events.PodUnschedulable:
			o.unsched[e.Name] = e
		case *events.PodDeleted:
			if o.evicted == nil {
				o.evicted = map[string]*events.PodDeleted{}
			}
			o.evicted[e.Name] = e
		default:
			t.Fatalf("unexpected decision %T", d.Event)
		}
	}
	return o
}

func TestUnschedulableMessage(t *testing.T) {
	cases := []struct {
		total   int
		reasons map[string]int
		want    string
	}{
		{3, map[string]int{"Insufficient memory": 2, "node(s) were not ready": 1}, "0/3 nodes are available: 2 Insufficient memory, 1 node(s) were not ready."},
		{3, map[string]int{"node(s) were not ready": 1, "Insufficient memory": 2}, "0/3 nodes are available: 2 Insufficient memory, 1 node(s) were not ready."},
		{1, map[string]int{"Insufficient cpu": 1}, "0/1 nodes are available: 1 Insufficient cpu."},
		{4, map[string]int{"Too many pods": 2, "Insufficient cpu": 2}, "0/4 nodes are available: 2 Insufficient cpu, 2 Too many pods."},
		{6, map[string]int{"Insufficient memory": 1, "Insufficient cpu": 2, "node(s) were not ready": 3},
			"0/6 nodes are available: 3 node(s) were not ready, 2 Insufficient cpu, 1 Insufficient memory."},
		{0, map[string]int{}, "0/0 nodes are available: no nodes registered."},
	}
	for _, tc := range cases {
		if got := scheduler.Unschedulable(tc.total, tc.reasons); got != tc.want {
			t.Errorf("Unschedulable(%d, %v) = %q, want %q", tc.total, tc.reasons, got, tc.want)
		}
	}
}

func TestBindsToTheNodeWithRoom(t *testing.T) {
	w := newWorld(t)
	w.heartbeat(pt.NodeInfo("a-small", 500, 8<<30, 110), pt.NodeInfo("b-roomy", 2000, 8<<30, 110), pt.NodeInfo("c-lowmem", 4000, 128<<20, 110))
	pods := w.pending(deployment("web", 1, "1", "256Mi"), "w1", 1)
	plannedRec := w.l.Records[len(w.l.Records)-1]

	ds := w.decide()
	if len(ds) != 1 {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	d, p := ds[0], pods[0]
	b, ok := d.Event.(*events.PodBound)
	if !ok {
		t.Fatalf("decision:\n%s", show(ds))
	}
	if b.Node != "b-roomy" || b.Epoch != 1 || b.Feasible != 1 {
		t.Errorf("bound to %q epoch %d feasible %d, want b-roomy 1 1", b.Node, b.Epoch, b.Feasible)
	}
	if !reflect.DeepEqual(b.Pod, p) {
		t.Errorf("bound pod = %+v\nwant the planned pod %+v", b.Pod, p)
	}
	if want := []string{"NodeReady", "NodeUnschedulable", "TaintToleration", "PodCount", "ResourceFit"}; !reflect.DeepEqual(b.Filters, want) {
		t.Errorf("filters = %v", b.Filters)
	}
	// Bin packing, once placed: cpu 1000/2000 = 50, memory 256Mi/8Gi = 3 → 26.
	if want := []events.Score{{Name: "MostAllocated", Score: 26}, {Name: "WorkloadSpread", Score: 100}}; !reflect.DeepEqual(b.Scores, want) {
		t.Errorf("scores = %v, want %v", b.Scores, want)
	}
	if d.Subject != fmt.Sprintf("gantry.decision.pod.%s.%s", ns, p.Name) || d.MsgID != fmt.Sprintf("bind/%s/1", p.UID) ||
		len(d.CopyTo) != 1 || d.CopyTo[0] != fmt.Sprintf("gantry.node.b-roomy.pod.%s.%s", ns, p.Name) ||
		d.ExpectOn != "" || d.ExpectLastSeq == nil || *d.ExpectLastSeq != plannedRec.Seq {
		t.Errorf("decision:\n%s", show(ds))
	}
	if d.Meta.CausationID != plannedRec.Envelope.ID || d.Meta.CorrelationID != plannedRec.Envelope.CorrelationID || d.Meta.ID != events.DeriveID(d.MsgID) {
		t.Errorf("meta = %+v, want caused by the planning %s", d.Meta, plannedRec.Envelope.ID)
	}
	w.store(d)
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("a bound pod was placed again:\n%s", show(ds))
	}
}

func TestTiesGoToTheFirstNodeByName(t *testing.T) {
	w := newWorld(t)
	w.heartbeat(pt.NodeInfo("n3", 4000, 8<<30, 0), pt.NodeInfo("n1", 4000, 8<<30, 0), pt.NodeInfo("n2", 4000, 8<<30, 0))
	w.pending(deployment("web", 1, "1", "1Gi"), "w1", 1)
	if o := outcomes(t, w.decide()); o.bound["web-001"] != "n1" {
		t.Errorf("bound = %v, want n1", o.bound)
	}
}

func TestSpreadsADeploymentAcrossNodes(t *testing.T) {
	w := newWorld(t)
	w.heartbeat(pt.NodeInfo("n1", 8000, 8<<30, 0), pt.NodeInfo("n2", 8000, 8<<30, 0), pt.NodeInfo("n3", 8000, 8<<30, 0))
	w.pending(deployment("web", 6, "100m", "64Mi"), "w1", 6)
	ds := w.decide()
	o := outcomes(t, ds)
	if len(o.bound) != 6 {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	first := map[string]bool{}
	for _, name := range []string{"web-001", "web-002", "web-003"} {
		first[o.bound[name]] = true
	}
	if len(first) != 3 {
		t.Errorf("the first three replicas share nodes: %v", o.bound)
	}
	if !reflect.DeepEqual(o.perNode, map[string]int{"n1": 2, "n2": 2, "n3": 2}) {
		t.Errorf("per node = %v, want 2 each", o.perNode)
	}
	// Another workload is not pushed away by web's pods.
	w.storeAll(ds)
	w.pending(deployment("api", 1, "100m", "64Mi"), "w2", 1)
	if o := outcomes(t, w.decide()); o.bound["api-007"] != "n1" {
		t.Errorf("api bound = %v", o.bound)
	}
}

func TestNeverOvercommitsInOnePass(t *testing.T) {
	w := newWorld(t)
	w.heartbeat(pt.NodeInfo("n1", 4000, 8<<30, 0), pt.NodeInfo("n2", 4000, 8<<30, 0))
	w.pending(deployment("web", 10, "1", ""), "w1", 10)
	ds := w.decide()
	o := outcomes(t, ds)
	if len(o.bound) != 8 || o.perNode["n1"] != 4 || o.perNode["n2"] != 4 || len(o.unsched) != 2 {
		t.Fatalf("bound %v, unschedulable %d; decisions:\n%s", o.perNode, len(o.unsched), show(ds))
	}
	for name, u := range o.unsched {
		if u.Message != "0/2 nodes are available: 2 Insufficient cpu." || !reflect.DeepEqual(u.Reasons, map[string]int{"Insufficient cpu": 2}) {
			t.Errorf("%s: %q %v", name, u.Message, u.Reasons)
		}
	}
	// The oldest pods won.
	for _, name := range []string{"web-009", "web-010"} {
		if o.unsched[name] == nil {
			t.Errorf("%s should be the one left out; unschedulable = %v", name, o.unsched)
		}
	}
	w.storeAll(ds)

	// Said once: nothing changed, nothing to say.
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("unschedulable said again:\n%s", show(ds))
	}
	// A node joins: the two are placed there.
	w.heartbeat(pt.NodeInfo("n3", 4000, 8<<30, 0))
	o = outcomes(t, w.decide())
	if o.perNode["n3"] != 2 || len(o.bound) != 2 || len(o.unsched) != 0 {
		t.Errorf("after n3 joined: bound %v unschedulable %v", o.bound, o.unsched)
	}
}

func TestUnschedulableIsSaidAgainWhenTheReasonChanges(t *testing.T) {
	w := newWorld(t)
	w.heartbeat(pt.NodeInfo("n1", 1000, 8<<30, 0), pt.NodeInfo("n2", 1000, 8<<30, 0))
	w.pending(deployment("web", 1, "2", ""), "w1", 1)
	ds := w.decide()
	first := outcomes(t, ds).unsched["web-001"]
	if first == nil || first.Message != "0/2 nodes are available: 2 Insufficient cpu." {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	w.storeAll(ds)
	// n2 goes quiet past NodeLostAfter; n1 keeps beating.
	w.l.Advance(projections.NodeLostAfter)
	w.heartbeat(pt.NodeInfo("n1", 1000, 8<<30, 0))
	ds = w.decide()
	second := outcomes(t, ds).unsched["web-001"]
	if second == nil || second.Message != "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) were not ready." {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	if ds[0].MsgID == fmt.Sprintf("unschedulable/%s/%s", first.UID, events.DeriveID(first.Message)[:8]) {
		t.Error("a new message reuses the old message id")
	}
	w.storeAll(ds)
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("said again:\n%s", show(ds))
	}
}

func TestNoNodes(t *testing.T) {
	w := newWorld(t)
	w.pending(deployment("web", 1, "", ""), "w1", 1)
	ds := w.decide()
	u := outcomes(t, ds).unsched["web-001"]
	if u == nil || u.Message != "0/0 nodes are available: no nodes registered." {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	if ds[0].Subject != events.PodDecisionSubject(ns, "web-001") || ds[0].ExpectLastSeq == nil || len(ds[0].CopyTo) != 0 ||
		!strings.HasPrefix(ds[0].MsgID, "unschedulable/uid-web-1/") {
		t.Errorf("decision:\n%s", show(ds))
	}
}

func TestSkipsNodesThatAreNotReadyOrFull(t *testing.T) {
	w := newWorld(t)
	w.heartbeat(pt.NodeInfo("stale", 8000, 8<<30, 0))
	w.l.Advance(projections.NodeLostAfter + time.Second)
	w.heartbeat(pt.NodeInfo("full", 8000, 8<<30, 1), pt.NodeInfo("ok", 8000, 8<<30, 0))
	// "full" allows one pod and runs one already.
	other := w.pending(deployment("other", 1, "", ""), "w0", 1)
	w.apply(w.l.Bound(other[0], "full", 1))
	w.pending(deployment("web", 1, "1", ""), "w1", 1)
	if o := outcomes(t, w.decide()); o.bound["web-002"] != "ok" {
		t.Errorf("bound = %v, want ok", o.bound)
	}
}

func TestPlacesOnlyPendingPods(t *testing.T) {
	w := newWorld(t)
	w.heartbeat(pt.NodeInfo("n1", 8000, 8<<30, 0))
	pods := w.pending(deployment("web", 3, "1", ""), "w1", 3)
	w.apply(w.l.Bound(pods[0], "n1", 1))
	w.apply(w.l.Bound(pods[1], "n1", 1), w.l.Deleted(pods[1], "n1", 1, "scaled down"))
	w.apply(w.l.Deleted(pods[2], "", 0, "scaled down")) // unbound: forgotten
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	// A deleting pod still holds its room until its node removes it.
	w.apply(w.l.Heartbeat(pt.NodeInfo("n1", 2500, 8<<30, 0)))
	late := w.pending(deployment("late", 1, "1", ""), "w2", 1)
	if u := outcomes(t, w.decide()).unsched[late[0].Name]; u == nil {
		t.Fatal("a pod was placed in room a stopping pod still holds")
	}
	w.apply(w.l.Removed("n1", pods[1], 1))
	if o := outcomes(t, w.decide()); o.bound[late[0].Name] != "n1" {
		t.Errorf("after removal: %v", o.bound)
	}
}

// A bare pod deleted and created again keeps its name, so its node subject
// gantry.node.<n>.pod.<ns>.<name> already holds the old incarnation's
// binding and deletion. The new binding's expectation must be that
// subject's last sequence, or the log refuses it forever and the pod never
// runs.
func TestBindingAPodRecreatedUnderTheSameName(t *testing.T) {
	w := newWorld(t)
	w.heartbeat(pt.NodeInfo("n1", 4000, 8<<30, 0))
	solo := pt.BarePod(ns, "solo", "busybox:1")
	first := events.PodPlanned{Namespace: ns, Name: "solo", UID: "uid-1", Owner: &events.OwnerRef{Kind: "pod", Name: "solo", UID: "uid-1"}, Spec: *solo.Pod()}
	w.apply(w.l.Accepted(solo, "uid-1", 1), w.l.Planned(first))
	w.storeAll(w.decide()) // bound on n1
	w.apply(w.l.AcceptedDelete("pod", ns, "solo", "uid-1", 1))
	p := w.c.Pods[projections.Key(ns, "solo")]
	w.store(runner.Decision{Subject: events.PodDecisionSubject(ns, "solo"), MsgID: "delete/uid-1/1",
		Event:         &events.PodDeleted{Namespace: ns, Name: "solo", UID: "uid-1", Node: "n1", Epoch: 1, Reason: "pod deleted"},
		ExpectLastSeq: &p.LastDecisionSeq})
	w.apply(w.l.Removed("n1", first, 1))
	if w.c.Pods[projections.Key(ns, "solo")] != nil {
		t.Fatal("old incarnation not forgotten")
	}

	second := first
	second.UID, second.Owner = "uid-2", &events.OwnerRef{Kind: "pod", Name: "solo", UID: "uid-2"}
	w.apply(w.l.Accepted(solo, "uid-2", 1), w.l.Planned(second))
	ds := w.decide()
	if len(ds) != 1 {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	last := w.l.LastSeq(events.PodDecisionSubject(ns, "solo"))
	if got := ds[0].ExpectLastSeq; got == nil || *got != last {
		t.Errorf("binding expects %v on %s, but the log's last sequence there is %d: the log refuses it, every pass",
			ptrString(got), ds[0].ExpectOn, last)
	}
	if _, _, err := w.l.Publish(ds[0].Subject, ds[0].Event, ds[0].MsgID, ds[0].ExpectLastSeq, ds[0].ExpectOn); err != nil {
		t.Errorf("the log refuses the binding: %v", err)
	}
}

func ptrString(p *uint64) string {
	if p == nil {
		return "nothing"
	}
	return fmt.Sprint(*p)
}

// --- invariants over random clusters ---

type randNode struct {
	info  events.NodeInfo
	ready bool
}

// TestPlacementInvariants: over random clusters, one pass never puts a node
// over its allocatable cpu, memory or pod count, and binds every pod that
// fits some ready node when it is considered (oldest first) — so a pod is
// declared unschedulable only when no node had room for it at its turn.
func TestPlacementInvariants(t *testing.T) {
	rng := rand.New(rand.NewSource(20250101))
	cpus := []string{"", "100m", "250m", "500m", "1", "2"}
	mems := []string{"", "64Mi", "256Mi", "1Gi", "3Gi"}
	var totalBound, totalUnschedulable int
	for trial := 0; trial < 150; trial++ {
		w := newWorld(t)
		var nodes []randNode
		nn := 1 + rng.Intn(6)
		for i := 0; i < nn; i++ {
			info := pt.NodeInfo(fmt.Sprintf("n%02d", i), int64(500+rng.Intn(8)*500), int64(1+rng.Intn(8))<<30, int64(rng.Intn(6)))
			nodes = append(nodes, randNode{info: info, ready: rng.Intn(5) > 0})
		}
		for _, n := range nodes {
			if !n.ready {
				w.heartbeat(n.info)
			}
		}
		w.l.Advance(projections.NodeLostAfter)
		for _, n := range nodes {
			if n.ready {
				w.heartbeat(n.info)
			}
		}
		// Some workloads with pending pods, some already bound within
		// capacity (bound pods may be running, failed or deleting).
		used := map[string]map[string]int64{}
		for _, n := range nodes {
			used[n.info.Name] = map[string]int64{}
		}
		fits := func(n randNode, cpu, mem int64) bool {
			a, u := n.info.Allocatable, used[n.info.Name]
			if max, ok := a[events.ResourcePods]; ok && u[events.ResourcePods]+1 > max {
				return false
			}
			if cpu > 0 && cpu > a[events.ResourceCPU]-u[events.ResourceCPU] {
				return false
			}
			if mem > 0 && mem > a[events.ResourceMemory]-u[events.ResourceMemory] {
				return false
			}
			return true
		}
		add := func(name string, cpu, mem int64) {
			used[name][events.ResourceCPU] += cpu
			used[name][events.ResourceMemory] += mem
			used[name][events.ResourcePods]++
		}
		nw := 1 + rng.Intn(4)
		for i := 0; i < nw; i++ {
			dep := deployment(fmt.Sprintf("w%d", i), 1, cpus[rng.Intn(len(cpus))], mems[rng.Intn(len(mems))])
			cpu, mem := dep.Deployment().Template.Spec.Requests()
			for _, p := range w.pending(dep, fmt.Sprintf("uid-w%d", i), rng.Intn(8)) {
				if rng.Intn(3) > 0 {
					continue // stays pending
				}
				n := nodes[rng.Intn(len(nodes))]
				if !fits(n, cpu, mem) {
					continue
				}
				w.apply(w.l.Bound(p, n.info.Name, 1))
				switch rng.Intn(4) {
				case 0: // terminal: frees its room
					w.apply(w.l.Status(n.info.Name, p, 1, events.PhaseFailed, false))
					continue
				case 1:
					w.apply(w.l.Deleted(p, n.info.Name, 1, "scaled down"))
				}
				add(n.info.Name, cpu, mem)
			}
		}

		ds := w.svc.Decide(w.l.Now)
		byPod := map[string]runner.Decision{}
		for _, d := range ds {
			var name string
			switch e := d.Event.(type) {
			case *events.PodBound:
				name = e.Pod.Name
			case *events.PodUnschedulable:
				name = e.Name
			}
			if _, dup := byPod[name]; dup {
				t.Fatalf("trial %d: two decisions for %s", trial, name)
			}
			byPod[name] = d
		}
		byName := map[string]randNode{}
		for _, n := range nodes {
			byName[n.info.Name] = n
		}
		for _, p := range w.c.SortedPods() {
			if p.Node != "" || p.Deleting {
				if _, ok := byPod[p.Name]; ok {
					t.Fatalf("trial %d: decided on %s, which is not pending", trial, p.Name)
				}
				continue
			}
			cpu, mem := p.Requests()
			d, ok := byPod[p.Name]
			if !ok {
				t.Fatalf("trial %d: pending pod %s got no decision on a first pass", trial, p.Name)
			}
			var room []string
			for _, n := range nodes {
				if n.ready && fits(n, cpu, mem) {
					room = append(room, n.info.Name)
				}
			}
			switch e := d.Event.(type) {
			case *events.PodBound:
				n := byName[e.Node]
				if !n.ready || !fits(n, cpu, mem) {
					t.Fatalf("trial %d: %s (cpu %d mem %d) bound to %s (ready %v, used %v of %v)",
						trial, p.Name, cpu, mem, e.Node, n.ready, used[e.Node], n.info.Allocatable)
				}
				add(e.Node, cpu, mem)
				totalBound++
			case *events.PodUnschedulable:
				totalUnschedulable++
				if len(room) > 0 {
					t.Fatalf("trial %d: %s (cpu %d mem %d) declared unschedulable (%q) though %v had room",
						trial, p.Name, cpu, mem, e.Message, room)
				}
			}
		}
		for _, n := range nodes {
			a, u := n.info.Allocatable, used[n.info.Name]
			for _, r := range []string{events.ResourceCPU, events.ResourceMemory} {
				if u[r] > a[r] {
					t.Fatalf("trial %d: %s over its %s: %d > %d", trial, n.info.Name, r, u[r], a[r])
				}
			}
			if max, ok := a[events.ResourcePods]; ok && u[events.ResourcePods] > max {
				t.Fatalf("trial %d: %s runs %d pods, allows %d", trial, n.info.Name, u[events.ResourcePods], max)
			}
		}
	}
	if totalBound < 100 || totalUnschedulable < 50 {
		t.Errorf("the random clusters exercise too little: %d bindings, %d unschedulable", totalBound, totalUnschedulable)
	}
	t.Logf("%d bindings, %d unschedulable", totalBound, totalUnschedulable)
}

// BenchmarkDecide5000Nodes is one scheduling pass placing 1,000 pending pods
// of 50 workloads over 5,000 ready nodes: the pure core, no NATS.
func BenchmarkDecide5000Nodes(b *testing.B) { benchDecide5000(b) }

// benchDecide5000 times one pass placing 1,000 pending pods of 50 workloads
// over 5,000 ready nodes.
func benchDecide5000(b *testing.B, cfg ...scheduler.Config) {
	w := newWorld(b, cfg...)
	for i := 0; i < 5000; i++ {
		w.heartbeat(pt.NodeInfo(fmt.Sprintf("node-%04d", i), int64(2000+(i%4)*2000), int64(4+i%8)<<30, 110))
	}
	for i := 0; i < 50; i++ {
		w.pending(deployment(fmt.Sprintf("app%02d", i), 20, []string{"100m", "250m", "500m", "1"}[i%4], []string{"128Mi", "512Mi", "1Gi"}[i%3]), fmt.Sprintf("uid-app%02d", i), 20)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if ds := w.svc.Decide(w.l.Now); len(ds) != 1000 {
			b.Fatalf("decisions = %d", len(ds))
		}
	}
}

// BenchmarkDecide5000NodesScanAll is the same pass with every node filtered
// and scored for every pod (PercentageOfNodesToScore 100), to show what
// stopping early saves.
func BenchmarkDecide5000NodesScanAll(b *testing.B) {
	benchDecide5000(b, scheduler.Config{PercentageOfNodesToScore: 100})
}

// BenchmarkDecide5000NodesSpread is B1's spread variant as a pure pass:
// 5,000 nodes in three zones holding 5,000 pods, and 1,000 pending pods of
// 10 Deployments, each with a zone spread (maxSkew 1) and a preferred
// hostname anti-affinity on its own pods.
func BenchmarkDecide5000NodesSpread(b *testing.B) {
	w := newWorld(b)
	for i := 0; i < 5000; i++ {
		w.heartbeat(nodeInfo(fmt.Sprintf("node-%04d", i), 32000, 128<<30, 110, withLabels("zone", []string{"a", "b", "c"}[i%3])))
	}
	spreadDep := func(name string) manifest.Object {
		d := shaped(name, 100, "100m", "64Mi", func(s *manifest.PodSpec) {
			sel := &manifest.LabelSelector{MatchLabels: map[string]string{"app": name}}
			s.TopologySpreadConstraints = []manifest.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: "DoNotSchedule", LabelSelector: sel}}
			s.Affinity = &manifest.Affinity{PodAntiAffinity: &manifest.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []manifest.WeightedPodAffinityTerm{
				{Weight: 100, PodAffinityTerm: manifest.PodAffinityTerm{LabelSelector: sel, TopologyKey: manifest.HostnameTopologyKey}}}}}
		})
		d.Deployment().Template.Metadata.Labels["app"] = name
		return d
	}
	for i := 0; i < 50; i++ {
		w.bound(spreadDep(fmt.Sprintf("bg%02d", i)), fmt.Sprintf("uid-bg%02d", i), fmt.Sprintf("node-%04d", i*97%5000), 100)
	}
	for i := 0; i < 10; i++ {
		w.pending(spreadDep(fmt.Sprintf("app%02d", i)), fmt.Sprintf("uid-app%02d", i), 100)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if ds := w.svc.Decide(w.l.Now); len(ds) != 1000 {
			b.Fatalf("decisions = %d", len(ds))
		}
	}
}
