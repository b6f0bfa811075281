package replica

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/poddecision"
	"github.com/gantry-sh/gantry/services/runner"
)

// daemonTolerations are the tolerations Kubernetes' DaemonSet controller
// adds to every daemon pod: it keeps running on a node that is not ready or
// unreachable, and lands on one under pressure or cordoned (the scheduler's
// NodeUnschedulable filter lets a pod tolerating
// node.kubernetes.io/unschedulable through).
var daemonTolerations = []manifest.Toleration{
	{Key: "node.kubernetes.io/not-ready", Operator: manifest.TolerationOpExists, Effect: manifest.TaintNoExecute},
	{Key: "node.kubernetes.io/unreachable", Operator: manifest.TolerationOpExists, Effect: manifest.TaintNoExecute},
	{Key: "node.kubernetes.io/disk-pressure", Operator: manifest.TolerationOpExists, Effect: manifest.TaintNoSchedule},
	{Key: "node.kubernetes.io/memory-pressure", Operator: manifest.TolerationOpExists, Effect: manifest.TaintNoSchedule},
	{Key: "node.kubernetes.io/pid-pressure", Operator: manifest.TolerationOpExists, Effect: manifest.TaintNoSchedule},
	{Key: "node.kubernetes.io/unschedulable", Operator: manifest.TolerationOpExists, Effect: manifest.TaintNoSchedule},
}

// daemonNodes is what the service keeps of a DaemonSet between passes: the
// nodes that should run its pod (their count is its Desired), for the
// incarnation and generation it was computed for. A pass woken only by
// nodes that changed updates those nodes alone.
type daemonNodes struct {
	uid   string
	gen   int64
	match map[string]bool
	// old counts the pods of an older template the last full walk saw: a
	// rolling update under way weighs every node, so while old > 0 a
	// RollingUpdate DaemonSet is walked in full.
	old int
}

// namesPerNode bounds the names tried for a node's daemon pod: its name is
// drawn from (DaemonSet uid, node, k), k from 0, the first one no pod
// holds. 5 characters of 27 make two of 5,000 nodes draw one name about
// once in 1.2 DaemonSets (5,000² / 2 / 27^5), three nodes one name about
// once in 100,000: 8 names are plenty.
const namesPerNode = 8

// daemonSet keeps one pod on every node that should run it, making at most
// x.limit decisions, as Kubernetes' DaemonSet controller does:
//
//   - A node should run the pod when its labels match the template's
//     nodeSelector and required node affinity and the pod tolerates its
//     NoSchedule and NoExecute taints (with the daemon tolerations above:
//     a cordoned node runs it too). As in Kubernetes, whether the node is
//     ready does not matter here: the pod is planned for every registered
//     node that matches, and binds when the scheduler finds the node ready.
//     (So the replica service reads nodes' registrations, not their
//     heartbeats: 5,000 nodes beat far more often than they change.)
//   - A node whose labels stop matching, or with a NoExecute taint the pod
//     does not tolerate, or that left the cluster, loses its pod; one with
//     a new NoSchedule taint keeps it (as in Kubernetes).
//   - A pod that ended (Failed, Succeeded, removed by its node) is deleted
//     and replaced at once, under a new uid (and name: the old one is held
//     until its node removes it).
//   - Update strategy OnDelete: a template change touches no pod; a pod
//     deleted is replaced from the new template at once.
//   - Update strategy RollingUpdate (the default): the pods of an older
//     template are replaced node by node (daemonroll.go), and a node
//     whose pod is stopping (deleted, not yet removed by its node) gets
//     the new one once it is gone, as in Kubernetes (a daemon's host ports
//     are free again only then).
//
// Each pod is pinned to its node by a required node affinity term on
// kubernetes.io/hostname, so the scheduler binds it there or says why it
// cannot (insufficient cpu, …), as Kubernetes' does.
//
// Desired (how many nodes should run it) is decided when it changes.
//
// Worked example: nodes n1 (zone a), n2 (zone b), n3 (zone a, tainted
// dedicated=gpu:NoSchedule), a DaemonSet with nodeSelector zone=a → n1 gets
// a pod, n3 none (taint not tolerated), n2 none; Desired 1. n2 relabelled
// zone=a → n2 gets a pod; Desired 2. n1 relabelled zone=b → its pod is
// deleted; Desired 1.
//
// Cost: woken by its own changes or its pods', a DaemonSet walks its pods
// and the nodes; woken by nodes that changed (registrations, labels,
// taints, cordon), it looks up those nodes' pods by name, without walking
// the others, unless a rolling update is under way (the last full walk
// saw pods of an older template): a node's change may then free or take
// the update's budget, which weighs every node.
func (s *Service) daemonSet(w *projections.Workload, x examination) []runner.Decision {
	key := projections.WorkloadKey(w.Kind, w.Namespace, w.Name)
	cause := w.Cause()
	if w.Deleted {
		delete(s.dsMatch, key)
		return poddecision.Cascade(w, s.c.OwnedPods(w.UID), cause, Name, x.limit)
	}
	spec := w.Object.DaemonSet()
	if spec == nil {
		return nil
	}
	d := &daemon{s: s, w: w, spec: spec, hash: manifest.TemplateHash(spec.Template), cause: cause, limit: x.limit,
		tolerations: append(slices.Clone(spec.Template.Spec.Tolerations), daemonTolerations...), taken: map[string]bool{},
		rolling: spec.StrategyType() == manifest.DaemonSetRollingUpdate}
	if d.rolling {
		surge, _ := spec.RollingBounds(1)
		d.surging = surge > 0
	}
	nodes := s.dsMatch[key]
	if x.nodes != nil && nodes != nil && nodes.uid == w.UID && nodes.gen == w.Generation && (!d.rolling || nodes.old == 0) {
		for _, name := range x.nodes {
			d.node(name, d.podsOn(name), nodes)
		}
	} else {
		d.full = true
		nodes = &daemonNodes{uid: w.UID, gen: w.Generation, match: map[string]bool{}}
		byNode := map[string][]*projections.Pod{}
		for _, p := range s.c.OwnedPods(w.UID) {
			node := podNode(p)
			byNode[node] = append(byNode[node], p)
		}
		names := make([]string, 0, len(s.c.Nodes)+len(byNode))
		for name := range s.c.Nodes {
			names = append(names, name)
		}
		for name := range byNode {
			if s.c.Nodes[name] == nil {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		for _, name := range names {
			d.node(name, byNode[name], nodes)
		}
		nodes.old = d.old
		s.dsMatch[key] = nodes
		if d.rolling {
			d.roll(int32(len(nodes.match)))
		}
	}
	var desired *int32
	if n := int32(len(nodes.match)); n != w.Decided().Desired {
		desired = &n
	}
	if ds := s.decideStatus(w, desired, d.refused, cause); ds != nil {
		d.out = append(d.out, *ds)
	}
	return d.out
}

// daemon is one examination of a DaemonSet.
type daemon struct {
	s           *Service
	w           *projections.Workload
	spec        *manifest.DaemonSetSpec
	hash        string
	cause       events.Envelope
	limit       int
	tolerations []manifest.Toleration
	taken       map[string]bool // pod names planned in this examination
	out         []runner.Decision
	refused     string // why a quota refused a pod, if it did
	// rolling: the update strategy is RollingUpdate; surging: with a
	// maxSurge. full: every node is walked; old counts the pods of an
	// older template seen, and rollNodes are the nodes that should run
	// the pod, for roll.
	rolling, surging, full bool
	old                    int
	rollNodes              []rollNode
}

// node decides for one node, given the DaemonSet's pods on it, and notes
// in nodes whether it should run the pod.
func (d *daemon) node(name string, pods []*projections.Pod, nodes *daemonNodes) {
	n := d.s.c.Nodes[name]
	run, keep := false, false
	if n != nil {
		run, keep = d.verdict(n)
	}
	if run {
		nodes.match[name] = true
	} else {
		delete(nodes.match, name)
	}
	var active []*projections.Pod
	stopping := false
	before := len(d.out)
	for _, p := range pods {
		if !p.Deleting && p.TemplateHash != d.hash {
			d.old++
		}
		switch {
		case p.Deleting:
			stopping = stopping || !p.Terminal()
		case len(d.out) >= d.limit && (!keep || p.Terminal()):
			// Decided in a later pass; not active meanwhile.
		case n == nil:
			d.out = append(d.out, deletion(p, "node "+name+" left", d.cause))
		case !keep:
			d.out = append(d.out, deletion(p, "node "+name+" no longer matches", d.cause))
		case p.Terminal():
			d.out = append(d.out, deletion(p, "pod "+p.Phase(), d.cause))
		default:
			active = append(active, p)
		}
	}
	if len(active) > 1 {
		// Two pods on one node (two plans raced): keep the one scale-down
		// would keep last; while surging, the last of each template.
		sort.SliceStable(active, func(i, j int) bool { return scaleDownFirst(active[i], active[j]) })
		kept := active[len(active)-1:]
		if d.surging {
			kept = d.lastOfEach(active)
		}
		for _, p := range active {
			if !slices.Contains(kept, p) && len(d.out) < d.limit {
				d.out = append(d.out, deletion(p, "more than one daemon pod on node "+name, d.cause))
			}
		}
		active = kept
	}
	if d.surging && len(active) == 2 && len(d.out) < d.limit {
		// Surging: the old pod goes once the new one is available, or at
		// once if it is not ready itself (as Kubernetes' DaemonSet
		// controller does).
		old, cur := active[0], active[1]
		if !old.Ready() || cur.Ready() {
			d.out = append(d.out, deletion(old, "rolling update: replaced by "+cur.Name, d.cause))
			active = active[1:]
		}
	}
	if len(active) == 0 && run && len(d.out) < d.limit && !(d.rolling && stopping) {
		if p, ok := d.plan(name, pods); ok {
			if why := d.s.quotaPod(p); why != "" {
				d.refused = why
			} else {
				d.out = append(d.out, p)
			}
		}
	}
	if d.rolling && d.full && run {
		r := rollNode{name: name, pods: pods, busy: len(d.out) > before, empty: len(active) == 0}
		for _, p := range active {
			if p.TemplateHash == d.hash {
				r.cur = p
			} else {
				r.old = p
			}
		}
		d.rollNodes = append(d.rollNodes, r)
	}
}

// lastOfEach keeps, of a node's pods sorted as scale-down deletes them,
// the last of the current template and the last of any other, the older
// first.
func (d *daemon) lastOfEach(active []*projections.Pod) []*projections.Pod {
	var cur, old *projections.Pod
	for i := len(active) - 1; i >= 0; i-- {
		switch p := active[i]; {
		case p.TemplateHash == d.hash && cur == nil:
			cur = p
		case p.TemplateHash != d.hash && old == nil:
			old = p
		}
	}
	var kept []*projections.Pod
	for _, p := range []*projections.Pod{old, cur} {
		if p != nil {
			kept = append(kept, p)
		}
	}
	return kept
}

// verdict says whether a node should run the daemon pod (run) and whether
// it may keep one it runs (keep).
func (d *daemon) verdict(n *projections.Node) (run, keep bool) {
	labels := n.Info.Labels
	if _, ok := labels[manifest.HostnameTopologyKey]; !ok {
		labels = manifest.WithLabel(labels, manifest.HostnameTopologyKey, n.Info.Name)
	}
	spec := d.spec.Template.Spec
	for k, v := range spec.NodeSelector {
		if got, ok := labels[k]; !ok || got != v {
			return false, false
		}
	}
	if a := spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil &&
		!a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.Matches(labels) {
		return false, false
	}
	run, keep = true, true
	for _, t := range n.Info.Taints {
		if t.Effect != manifest.TaintNoSchedule && t.Effect != manifest.TaintNoExecute || tolerates(d.tolerations, t) {
			continue
		}
		run = false
		if t.Effect == manifest.TaintNoExecute {
			keep = false
		}
	}
	return run, keep
}

func tolerates(ts []manifest.Toleration, t manifest.Taint) bool {
	for _, tol := range ts {
		if tol.Tolerates(t) {
			return true
		}
	}
	return false
}

// podsOn finds the DaemonSet's pods on a node by the names they may have.
func (d *daemon) podsOn(node string) []*projections.Pod {
	var out []*projections.Pod
	for k := 0; k < namesPerNode; k++ {
		p := d.s.c.Pods[projections.Key(d.w.Namespace, DaemonPodName(d.w.Name, d.w.UID, node, k))]
		if p != nil && p.Owner != nil && p.Owner.UID == d.w.UID && podNode(p) == node {
			out = append(out, p)
		}
	}
	return out
}

// plan makes the daemon pod of a node: the first name of the node no pod
// holds, the first uid of the node never used (a replacement after a
// failure gets a new one), the template with the daemon tolerations, pinned
// to the node.
func (d *daemon) plan(node string, pods []*projections.Pod) (runner.Decision, bool) {
	w := d.w
	name := ""
	for k := 0; k < namesPerNode && name == ""; k++ {
		cand := DaemonPodName(w.Name, w.UID, node, k)
		if d.s.c.Pods[projections.Key(w.Namespace, cand)] == nil && !d.taken[cand] {
			name = cand
		}
	}
	if name == "" {
		return runner.Decision{}, false
	}
	d.taken[name] = true
	var uid string
	for n := int64(0); ; n++ {
		uid = daemonPodUID(w.UID, node, n)
		if !d.s.c.Gone(uid) && !slices.ContainsFunc(pods, func(p *projections.Pod) bool { return p.UID == uid }) {
			break
		}
	}
	t := d.spec.Template
	spec := t.Spec
	spec.Tolerations = slices.Clone(spec.Tolerations)
	for _, tol := range daemonTolerations {
		if !slices.ContainsFunc(spec.Tolerations, func(have manifest.Toleration) bool {
			return have.Key == tol.Key && have.Effect == tol.Effect && have.Operator == tol.Operator
		}) {
			spec.Tolerations = append(spec.Tolerations, tol)
		}
	}
	var aff manifest.Affinity
	if spec.Affinity != nil {
		aff = *spec.Affinity
	}
	var na manifest.NodeAffinity
	if aff.NodeAffinity != nil {
		na = *aff.NodeAffinity
	}
	// As Kubernetes' DaemonSet controller: the required node affinity is
	// replaced by the node itself (the node was checked against it above).
	na.RequiredDuringSchedulingIgnoredDuringExecution = &manifest.NodeSelector{NodeSelectorTerms: []manifest.NodeSelectorTerm{{
		MatchExpressions: []manifest.NodeSelectorRequirement{{Key: manifest.HostnameTopologyKey, Operator: manifest.OpIn, Values: []string{node}}},
	}}}
	aff.NodeAffinity = &na
	spec.Affinity = &aff
	msgID := "plan/" + uid
	return runner.Decision{
		Subject: events.PodDecisionSubject(w.Namespace, name),
		Event: &events.PodPlanned{Namespace: w.Namespace, Name: name, UID: uid,
			Owner:        &events.OwnerRef{Kind: w.Kind, Name: w.Name, UID: w.UID},
			TemplateHash: d.hash, Labels: t.Metadata.Labels, Annotations: t.Metadata.Annotations, Spec: spec},
		Meta:          d.cause.Caused(events.DeriveID(msgID), Name, w.Namespace+"/"+name, time.Time{}),
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(d.s.c.DecisionSeq(w.Namespace, name)),
	}, true
}

// podNode is the node a daemon pod is pinned to (its required node
// affinity on kubernetes.io/hostname), or "".
func podNode(p *projections.Pod) string {
	a := p.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 || len(terms[0].MatchExpressions) != 1 {
		return ""
	}
	r := terms[0].MatchExpressions[0]
	if r.Key != manifest.HostnameTopologyKey || r.Operator != manifest.OpIn || len(r.Values) != 1 {
		return ""
	}
	return r.Values[0]
}

// DaemonPodName is <daemonset>-<5 chars>, the characters drawn from
// (DaemonSet uid, node, k): k is 0 unless another pod holds that name.
func DaemonPodName(ds, uid, node string, k int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("daemon/%s/%s/%d", uid, node, k)))
	return withSuffix(ds, sum[:])
}

func daemonPodUID(dsUID, node string, n int64) string {
	return events.DeriveID(fmt.Sprintf("daemon/%s/%s/%d", dsUID, node, n))
}
