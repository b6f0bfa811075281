package rollout_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/replica"
	"github.com/gantry-sh/gantry/services/rollout"
	"github.com/gantry-sh/gantry/services/runner"
)

const (
	ns     = "default"
	depUID = "dep-uid-1"
	node   = "n1"
)

// world is a log, the rollout service and the replica service folding it
// (the rollout decides ReplicaSets, the replica service their pods), a
// stand-in for nodes that binds every pod and reports it as behave says,
// and a fold of the same log to check the bounds after every record.
type world struct {
	t   *testing.T
	l   *pt.Log
	ro  *rollout.Service
	rep *replica.Service
	c   *projections.Cluster
	// behave is how a pod of an image runs: ready, and how many restarts
	// its container reports (default: ready at once, none).
	behave map[string]health
	// minAvailable and maxPods are the lowest available and highest
	// number of the Deployment's pods after any record since watch.
	watching              bool
	minAvailable, maxPods int32
	reported              map[string]string // pod uid → the report it got
}

type health struct {
	ready    bool
	restarts int32
}

func newWorld(t *testing.T) *world {
	return &world{t: t, l: pt.NewLog(), ro: rollout.New(), rep: replica.New(), c: projections.NewCluster(),
		behave: map[string]health{}, reported: map[string]string{}}
}

// deployment is web at replicas of image, with mutations applied.
func deployment(replicas int32, image string, mutate ...func(*manifest.Object)) manifest.Object {
	o := pt.Deployment(ns, "web", replicas, image)
	for _, m := range mutate {
		m(&o)
	}
	o.Defaults()
	return o
}

func rolling(surge, unavailable string) func(*manifest.Object) {
	return func(o *manifest.Object) {
		s, u := intOrPercent(surge), intOrPercent(unavailable)
		o.Deployment().Strategy = &manifest.DeploymentStrategy{Type: manifest.RollingUpdateStrategy,
			RollingUpdate: &manifest.RollingUpdateDeployment{MaxSurge: &s, MaxUnavailable: &u}}
	}
}

func intOrPercent(v string) manifest.IntOrString {
	if strings.HasSuffix(v, "%") {
		return manifest.FromString(v)
	}
	var n int32
	fmt.Sscan(v, &n)
	return manifest.FromInt(n)
}

func annotate(k, v string) func(*manifest.Object) {
	return func(o *manifest.Object) {
		if o.Metadata.Annotations == nil {
			o.Metadata.Annotations = map[string]string{}
		}
		o.Metadata.Annotations[k] = v
	}
}

func (w *world) apply(rs ...events.Record) {
	for _, r := range rs {
		w.ro.Apply(r)
		w.rep.Apply(r)
		w.c.Apply(r)
		w.check()
	}
}

// store publishes a decision to the log with its headers and folds it.
func (w *world) store(d runner.Decision) {
	w.t.Helper()
	r, dup, err := w.l.Publish(d.Subject, d.Event, d.MsgID, d.ExpectLastSeq, d.ExpectOn)
	if err != nil {
		w.t.Fatalf("the log refuses %s: %v", d.MsgID, err)
	}
	if !dup {
		w.apply(r)
	}
}

// accept applies a Deployment as admission would accept it.
func (w *world) accept(o manifest.Object, gen int64) {
	w.apply(w.l.Accepted(o, depUID, gen))
}

// round runs each service's pass, stores what it decides, and has the
// nodes act on what they were told; it returns whether anything happened.
func (w *world) round() bool {
	w.t.Helper()
	n := 0
	for _, d := range w.ro.Decide(w.l.Now) {
		w.store(d)
		n++
	}
	for _, d := range w.rep.Decide(w.l.Now) {
		w.store(d)
		n++
	}
	return w.nodes() || n > 0
}

// nodes binds every pod not bound, reports each as its image behaves,
// and removes the deleted ones.
func (w *world) nodes() bool {
	acted := false
	for _, key := range sortedPods(w.c) {
		p := w.c.Pods[key]
		pl := events.PodPlanned{Namespace: p.Namespace, Name: p.Name, UID: p.UID, Owner: p.Owner, TemplateHash: p.TemplateHash,
			Labels: p.Labels, Annotations: p.Annotations, Spec: p.Spec}
		switch {
		case p.Deleting && p.Node != "":
			w.apply(w.l.Removed(node, pl, p.Epoch))
			acted = true
		case p.Deleting:
		case p.Node == "":
			w.apply(w.l.Bound(pl, node, 1))
			acted = true
		default:
			h, ok := w.behave[p.Spec.Containers[0].Image]
			if !ok {
				h = health{ready: true}
			}
			want := fmt.Sprint(h)
			if w.reported[p.UID] == want {
				continue
			}
			r := w.l.Status(node, pl, p.Epoch, events.PhaseRunning, h.ready)
			r.Event.(*events.PodStatusObserved).Containers[0].RestartCount = h.restarts
			w.apply(r)
			w.reported[p.UID] = want
			acted = true
		}
	}
	return acted
}

func sortedPods(c *projections.Cluster) []string {
	var keys []string
	for k := range c.Pods {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// settle runs rounds until nothing happens (at most 200).
func (w *world) settle() {
	w.t.Helper()
	for i := 0; i < 200; i++ {
		if !w.round() {
			return
		}
	}
	w.t.Fatalf("still deciding after 200 rounds")
}

// watch starts checking the bounds after every record.
func (w *world) watch() {
	w.watching, w.minAvailable, w.maxPods = true, 1<<30, 0
}

// check notes the Deployment's pods (neither ended nor being deleted) and
// available ones after a record.
func (w *world) check() {
	if !w.watching {
		return
	}
	var pods, available int32
	for _, p := range w.c.Pods {
		if p.Owner == nil || p.Owner.Kind != "replicaset" || p.Deleting || p.Terminal() {
			continue
		}
		pods++
		if p.Ready() {
			available++
		}
	}
	w.minAvailable = min(w.minAvailable, available)
	w.maxPods = max(w.maxPods, pods)
}

// dep is the Deployment's fold and status.
func (w *world) dep() (*projections.Workload, manifest.WorkloadStatus) {
	d := w.c.Workloads["deployment/default/web"]
	if d == nil {
		w.t.Fatalf("no deployment")
	}
	return d, w.c.Status(d)
}

// sizes maps the live ReplicaSets' images to their spec.replicas.
func (w *world) sizes() map[string]int32 {
	out := map[string]int32{}
	for _, rs := range w.c.OwnedWorkloads(depUID) {
		if !rs.Deleted {
			out[rs.Object.ReplicaSet().Template.Spec.Containers[0].Image] = rs.Object.ReplicaSet().ReplicaCount()
		}
	}
	return out
}

// podImages counts the Deployment's pods (not being deleted) by image.
func (w *world) podImages() map[string]int {
	out := map[string]int{}
	for _, p := range w.c.Pods {
		if p.Owner != nil && p.Owner.Kind == "replicaset" && !p.Deleting {
			out[p.Spec.Containers[0].Image]++
		}
	}
	return out
}

func (w *world) condition(typ string) manifest.Condition {
	_, st := w.dep()
	if c := st.Condition(typ); c != nil {
		return *c
	}
	return manifest.Condition{}
}

// story is the log's reasons for the ReplicaSets' decisions, in order.
func (w *world) story() []string {
	var out []string
	for _, r := range w.l.Records {
		if e, ok := r.Event.(*events.WorkloadDecided); ok && e.Reason != "" {
			out = append(out, e.Reason)
		}
	}
	return out
}

func show(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

var _ = time.Second
