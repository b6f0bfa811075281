package projections

import (
	"sort"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// Pod is one planned pod, its binding and the newest report of it.
type Pod struct {
	Namespace    string            `json:"namespace"`
	Name         string            `json:"name"`
	UID          string            `json:"uid"`
	Owner        *events.OwnerRef  `json:"owner,omitempty"`
	TemplateHash string            `json:"templateHash,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Spec         manifest.PodSpec  `json:"spec"`
	CreatedAt    time.Time         `json:"createdAt"`
	PlannedSeq   uint64            `json:"plannedSeq"`
	// PlannedID, CorrelationID and Actor: the causal chain of the pod.
	PlannedID     string `json:"plannedID"`
	CorrelationID string `json:"correlationID"`
	Actor         string `json:"actor,omitempty"`

	Node     string         `json:"node,omitempty"`
	Epoch    int64          `json:"epoch,omitempty"`
	BoundAt  *time.Time     `json:"boundAt,omitempty"`
	Filters  []string       `json:"filters,omitempty"`
	Scores   []events.Score `json:"scores,omitempty"`
	Feasible int            `json:"feasible,omitempty"`
	// LastDecisionSeq is the last sequence on gantry.decision.pod.<ns>.<name>,
	// the pod's fence: the expectation every binding and deletion sends.
	LastDecisionSeq uint64 `json:"lastDecisionSeq,omitempty"`

	Unschedulable string `json:"unschedulable,omitempty"`
	// UnschedulableCount counts the unschedulable verdicts, so each new one
	// gets a message id of its own.
	UnschedulableCount int `json:"unschedulableCount,omitempty"`

	Deleting      bool   `json:"deleting,omitempty"`
	DeleteReason  string `json:"deleteReason,omitempty"`
	DeletedOnNode int64  `json:"deletedOnNode,omitempty"` // epoch whose node was told to stop the pod
	// Removed: the node of the pod's newest binding reported it removed
	// while no deletion was decided (the node stopped it on its own, or was
	// told to by a message no service wrote). It will not run again: its
	// Status says Failed, reason Removed, as Kubernetes shows a pod its
	// kubelet killed, and its Deployment replaces it.
	Removed bool `json:"removed,omitempty"`

	Status *events.PodStatusObserved `json:"status,omitempty"`
	// NodeNotReadySince is when the pod's node was decided NotReady, while
	// it is: the pod's state is Unknown and it is not Ready, as Kubernetes
	// shows the pods of an unreachable node.
	NodeNotReadySince *time.Time `json:"nodeNotReadySince,omitempty"`
	// ReadySince is when the pod last became Ready (the time of the record
	// that made it so), while it is: with minReadySeconds, it is available
	// from ReadySince + minReadySeconds.
	ReadySince *time.Time `json:"readySince,omitempty"`
	// NotReadyTransitions counts the times the pod went from Ready to not
	// Ready: a canary analysis reads it (pods.not_ready_transitions).
	NotReadyTransitions int32 `json:"notReadyTransitions,omitempty"`
	Seqs                Seqs  `json:"seqs"`
}

// readiness is what a pod's reports said of its readiness: since when
// they say ready (zero: they do not), and how many times they stopped
// saying it. It is kept from the reports alone, in their own order, so the
// fold's result does not depend on how reports interleave with decisions.
type readiness struct {
	uid   string
	since time.Time
	flips int32
}

// noteReport keeps a pod's readiness after its node's report e at time at.
func (c *Cluster) noteReport(key string, e *events.PodStatusObserved, at time.Time) {
	m := c.readyAt[key]
	if m.uid != e.UID {
		m = readiness{uid: e.UID}
	}
	ready := e.Phase == events.PhaseRunning && len(e.Containers) > 0
	for _, ct := range e.Containers {
		ready = ready && ct.Ready
	}
	switch {
	case ready && m.since.IsZero():
		m.since = at.UTC()
	case !ready && !m.since.IsZero():
		m.since = time.Time{}
		m.flips++
	}
	c.readyAt[key] = m
}

// noteReady keeps ReadySince and NotReadyTransitions after a change that
// may have made the pod Ready or not: ReadySince is when its reports began
// to say ready, while it is Ready (on a node not known NotReady).
func (c *Cluster) noteReady(p *Pod) {
	m := c.readyAt[Key(p.Namespace, p.Name)]
	p.ReadySince, p.NotReadyTransitions = nil, 0
	if m.uid != p.UID {
		return
	}
	p.NotReadyTransitions = m.flips
	if p.Ready() && !m.since.IsZero() {
		t := m.since
		p.ReadySince = &t
	}
}

// AvailableAt reports whether the pod counts as available at now for a
// workload with minReadySeconds minReady: Ready for at least that long.
func (p *Pod) AvailableAt(minReady time.Duration, now time.Time) bool {
	if !p.Ready() || p.ReadySince == nil {
		return false
	}
	return minReady <= 0 || !p.ReadySince.Add(minReady).After(now)
}

// Phase is the pod's phase as a user sees it.
func (p *Pod) Phase() string {
	if p.Status != nil && p.Status.Phase != "" {
		return p.Status.Phase
	}
	return events.PhasePending
}

// Ready reports every container running and ready, on a node not known
// NotReady.
func (p *Pod) Ready() bool {
	if p.Status == nil || p.Status.Phase != events.PhaseRunning || len(p.Status.Containers) == 0 || p.NodeNotReadySince != nil {
		return false
	}
	for _, c := range p.Status.Containers {
		if !c.Ready {
			return false
		}
	}
	return true
}

// Terminal reports a pod that will not run again.
func (p *Pod) Terminal() bool {
	ph := p.Phase()
	return ph == events.PhaseSucceeded || ph == events.PhaseFailed
}

// Requests sums what the pod asks of a node.
func (p *Pod) Requests() (milliCPU, memory int64) { return p.Spec.Requests() }

// DecisionSeq is the newest sequence on the decision subject of the pod
// named ns/name, of this incarnation or an earlier one (0: none yet). A
// plan expects it, so that two pods given one name cannot both be planned.
func (c *Cluster) DecisionSeq(ns, name string) uint64 { return c.decSeq[Key(ns, name)] }

// fence notes the newest sequence on a pod's decision subject, for the pod
// of that name now and for any later incarnation.
func (c *Cluster) fence(ns, name string, seq uint64) {
	key := Key(ns, name)
	c.decSeq[key] = seq
	if p := c.Pods[key]; p != nil {
		p.LastDecisionSeq = seq
	}
}

func (c *Cluster) applyPlanned(r events.Record, e *events.PodPlanned) {
	key := Key(e.Namespace, e.Name)
	if old := c.Pods[key]; old != nil && old.UID == e.UID {
		return
	}
	p := &Pod{Namespace: e.Namespace, Name: e.Name, UID: e.UID, Owner: e.Owner, TemplateHash: e.TemplateHash,
		Labels: e.Labels, Annotations: e.Annotations, Spec: e.Spec, CreatedAt: r.Envelope.Time, PlannedSeq: r.Seq, Seqs: Seqs{},
		PlannedID: r.Envelope.ID, CorrelationID: r.Envelope.CorrelationID, Actor: r.Envelope.Actor,
		LastDecisionSeq: c.decSeq[key]}
	c.attachStatus(p)
	c.Pods[key] = p
	index(c.nsPods, p.Namespace, key)
	if succeeded, ok := c.endedEarly[p.UID]; ok {
		delete(c.endedEarly, p.UID)
		c.countEnded(p, succeeded)
	}
	if e.Owner != nil {
		if w := c.ownerWorkload(e.Owner, e.Namespace); w != nil {
			w.PodsPlanned++
			c.touchWorkload(w, r)
		}
		set := c.byOwner[e.Owner.UID]
		if set == nil {
			set = map[string]bool{}
			c.byOwner[e.Owner.UID] = set
		}
		set[key] = true
	}
	c.touchPod(p, r)
}

func (c *Cluster) applyBound(r events.Record, e *events.PodBound) {
	key := Key(e.Pod.Namespace, e.Pod.Name)
	p := c.Pods[key]
	if p == nil || p.UID != e.Pod.UID {
		if _, removed := c.removed[e.Pod.UID]; !c.gone[e.Pod.UID] || removed {
			return // unknown, or already removed by its node
		}
		// Bound after it was deleted (a race the log settles): keep it as a
		// deleting pod so its node is told to stop it.
		p = &Pod{Namespace: e.Pod.Namespace, Name: e.Pod.Name, UID: e.Pod.UID, Owner: e.Pod.Owner,
			Spec: e.Pod.Spec, CreatedAt: r.Envelope.Time, Deleting: true, DeleteReason: "deleted before binding", Seqs: Seqs{}}
		c.attachStatus(p)
		c.Pods[key] = p
		index(c.nsPods, p.Namespace, key)
	}
	if e.Epoch < p.Epoch {
		return
	}
	at := r.Envelope.Time
	if p.Node != e.Node {
		delete(c.nodePods[p.Node], key)
		index(c.nodePods, e.Node, key)
	}
	p.Node, p.Epoch, p.BoundAt = e.Node, e.Epoch, &at
	p.NodeNotReadySince = nil
	if n := c.Nodes[e.Node]; n != nil && n.State != nil && !n.State.Ready {
		since := n.State.Since
		p.NodeNotReadySince = &since
	}
	p.Filters, p.Scores, p.Feasible = e.Filters, e.Scores, e.Feasible
	p.Unschedulable = ""
	if rm, ok := c.removed[p.UID]; ok && rm.epoch >= p.Epoch && !p.Deleting {
		c.markRemoved(p, rm) // its node's removal was read first
	}
	c.touchPod(p, r)
}

func (c *Cluster) applyDeleted(r events.Record, e *events.PodDeleted) {
	p := c.Pods[Key(e.Namespace, e.Name)]
	if p == nil || p.UID != e.UID {
		return
	}
	p.Deleting = true
	if p.DeleteReason == "" {
		p.DeleteReason = e.Reason
	}
	if e.Node != "" {
		if e.Epoch > p.DeletedOnNode {
			p.DeletedOnNode = e.Epoch
		}
	}
	switch {
	case p.Node == "":
		c.forget(p, r) // nothing runs it: gone at once
	case e.Force:
		c.forget(p, r) // finished without its node (delete --force, a lost node)
	case c.removedNow(p):
		c.forget(p, r) // its node has removed it already
	default:
		c.touchPod(p, r)
	}
}

func (c *Cluster) applyStatus(r events.Record, e *events.PodStatusObserved) {
	key := Key(e.Namespace, e.Name)
	if old := c.statuses[key]; old != nil && old.UID == e.UID && old.Epoch > e.Epoch {
		return // a report from an older binding
	}
	if rm, ok := c.removed[e.UID]; ok && rm.epoch >= e.Epoch {
		return // a report of a binding its node has removed since
	}
	c.statuses[key] = e
	c.statSeq[key] = r.Seq
	c.noteReport(key, e, r.Envelope.Time)
	if p := c.Pods[key]; p != nil && p.UID == e.UID {
		p.Status = e
		c.noteEnded(p, e)
		c.touchPod(p, r)
	} else if ended(e) {
		c.endedEarly[e.UID] = e.Phase == events.PhaseSucceeded // counted when its plan is read
	}
}

// removal is a node's report that it removed a pod's binding.
type removal struct {
	node  string
	epoch int64
	at    time.Time
	last  *events.PodStatusObserved // the node's last report of the binding, if any
}

// applyRemoved folds a node's report that it removed a pod. A removal
// counts only for the pod's newest binding: one of an older binding (the
// pod was bound elsewhere since, while this node was away) changes nothing
// but the record. A deleting pod is then gone. A pod no deletion was
// decided for will not run again either: the node has dropped it. It stays,
// Failed with reason Removed (as Kubernetes shows a pod its kubelet
// killed), until a service decides its deletion: the replica deletes and
// replaces a Deployment's pod at once; a bare Pod stays Failed, as in
// Kubernetes, until it is deleted.
func (c *Cluster) applyRemoved(r events.Record, e *events.PodRemoved) {
	key := Key(e.Namespace, e.Name)
	var last *events.PodStatusObserved
	if s := c.statuses[key]; s != nil && s.UID == e.UID && s.Epoch <= e.Epoch {
		if s.Epoch == e.Epoch && s.Node == e.Node {
			last = s
		}
		delete(c.statuses, key) // the node is done with it
		delete(c.statSeq, key)
		delete(c.readyAt, key)
	}
	if old, ok := c.removed[e.UID]; !ok || e.Epoch >= old.epoch {
		c.removed[e.UID] = removal{node: e.Node, epoch: e.Epoch, at: r.Envelope.Time, last: last}
	}
	p := c.Pods[key]
	if p == nil || p.UID != e.UID || !c.removedNow(p) {
		return
	}
	if p.Deleting {
		c.forget(p, r)
		return
	}
	if p.Node == "" || p.Removed {
		return // not bound yet (the binding, read later, looks here); or known
	}
	c.markRemoved(p, c.removed[p.UID])
	c.touchPod(p, r)
}

// removedNow reports whether a node has removed the pod's newest binding
// (or a newer one the fold has not read yet): the removal of an older
// binding leaves the pod running where it is bound now.
func (c *Cluster) removedNow(p *Pod) bool {
	rm, ok := c.removed[p.UID]
	return ok && rm.epoch >= p.Epoch
}

// markRemoved shows a pod its node removed with no deletion decision as
// Kubernetes shows a pod its kubelet killed: Failed, its containers
// terminated, reason Removed. It is made from the node's last report of the
// binding (the same stream as the removal, so the same whatever order the
// streams are read in), as a new value: that event is shared with other
// readers.
func (c *Cluster) markRemoved(p *Pod, rm removal) {
	p.Removed = true
	st := &events.PodStatusObserved{Namespace: p.Namespace, Name: p.Name, UID: p.UID, Node: rm.node, Epoch: rm.epoch,
		Phase: events.PhaseFailed, Reason: "Removed",
		Message: "node " + rm.node + " removed the pod; no deletion was decided"}
	if rm.last != nil {
		st.PodIP, st.InitContainers = rm.last.PodIP, rm.last.InitContainers
		for _, cs := range rm.last.Containers {
			if cs.State != events.ContainerTerminated {
				cs.State, cs.Reason, cs.Message, cs.ExitCode = events.ContainerTerminated, "Removed", "", nil
				if !rm.at.IsZero() {
					at := rm.at
					cs.FinishedAt = &at
				}
			}
			cs.Ready = false
			st.Containers = append(st.Containers, cs)
		}
	}
	p.Status = st
}

// forget drops a pod that is gone for good, keeping a tombstone of its uid.
func (c *Cluster) forget(p *Pod, r events.Record) {
	key := Key(p.Namespace, p.Name)
	delete(c.Pods, key)
	delete(c.nsPods[p.Namespace], key)
	delete(c.nodePods[p.Node], key)
	c.touchQuotas(p.Namespace, r)
	c.touchBudgets(p.Namespace, r)
	c.touchDeletedNamespace(p.Namespace, r)
	// The pod's newest status stays until its node reports the removal: a
	// binding that raced the deletion can still bring the pod back.
	c.gone[p.UID] = true
	mark(c.Dirty.Pods, key, r)
	if p.Owner != nil {
		delete(c.byOwner[p.Owner.UID], key)
		if w := c.ownerWorkload(p.Owner, p.Namespace); w != nil {
			c.markWorkload(w, r) // its status counts pods
			c.settleDeleted(w, r)
		}
	}
	if bare := c.Workloads[WorkloadKey("pod", p.Namespace, p.Name)]; bare != nil && bare.UID == p.UID {
		c.settleDeleted(bare, r) // the bare Pod of an adopted pod
	}
}

// Cause is an envelope standing for the event that planned the pod, to
// derive the metadata of decisions about it.
func (p *Pod) Cause() events.Envelope {
	return events.Envelope{ID: p.PlannedID, CorrelationID: p.CorrelationID, Actor: p.Actor}
}

// attachStatus gives a pod the report that arrived before it did.
func (c *Cluster) attachStatus(p *Pod) {
	key := Key(p.Namespace, p.Name)
	if s := c.statuses[key]; s != nil && s.UID == p.UID {
		p.Status = s
		p.Seqs[events.StreamObservations] = c.statSeq[key]
	}
}

// PodKeysOn lists, sorted, the keys of the pods whose newest binding is to
// node.
func (c *Cluster) PodKeysOn(node string) []string {
	keys := make([]string, 0, len(c.nodePods[node]))
	for k := range c.nodePods[node] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Gone reports a pod uid that was deleted and is forgotten.
func (c *Cluster) Gone(uid string) bool { return c.gone[uid] }

func (c *Cluster) touchPod(p *Pod, r events.Record) {
	c.noteReady(p)
	p.Seqs[r.Stream] = r.Seq
	c.touchQuotas(p.Namespace, r)
	c.touchBudgets(p.Namespace, r)
	c.touchDeletedNamespace(p.Namespace, r)
	mark(c.Dirty.Pods, Key(p.Namespace, p.Name), r)
	if p.Owner != nil {
		if w := c.ownerWorkload(p.Owner, p.Namespace); w != nil {
			c.markWorkload(w, r) // its status counts pods
		}
	}
}

// applyReleased folds a controller letting a pod go: it keeps running with
// no owner, and its former owner no longer counts it.
func (c *Cluster) applyReleased(r events.Record, e *events.PodReleased) {
	key := Key(e.Namespace, e.Name)
	p := c.Pods[key]
	if p == nil || p.UID != e.UID || p.Owner == nil || p.Owner.UID != e.Owner {
		return
	}
	if w := c.ownerWorkload(p.Owner, p.Namespace); w != nil {
		c.markWorkload(w, r)
	}
	delete(c.byOwner[p.Owner.UID], key)
	p.Owner = nil
	c.touchPod(p, r)
}

// applyAdopted folds a controller taking a pod that has none.
func (c *Cluster) applyAdopted(r events.Record, e *events.PodAdopted) {
	key := Key(e.Namespace, e.Name)
	p := c.Pods[key]
	if p == nil || p.UID != e.UID || (p.Owner != nil && p.Owner.Kind != "pod") {
		return
	}
	if p.Owner != nil {
		delete(c.byOwner[p.Owner.UID], key)
	}
	owner := e.Owner
	p.Owner = &owner
	set := c.byOwner[owner.UID]
	if set == nil {
		set = map[string]bool{}
		c.byOwner[owner.UID] = set
	}
	set[key] = true
	c.touchPod(p, r)
}
