// Package projections holds Gantry's pure folds over the log. A fold has no
// I/O, no clock and no randomness: replaying the same records gives the same
// state, and a record at or below the applied sequence is a no-op.
package projections

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// Cluster is the shared view of workloads, pods and nodes, folded from the
// decisions, observations and heartbeats streams.
type Cluster struct {
	Applied   map[string]uint64 // stream → last applied sequence
	Workloads map[string]*Workload
	Pods      map[string]*Pod
	Nodes     map[string]*Node

	// statuses holds the newest report of each pod by key; a report can be
	// applied before the decision that planned its pod (streams interleave).
	statuses map[string]*events.PodStatusObserved
	statSeq  map[string]uint64  // pod key → observations sequence of its status
	removed  map[string]removal // pod uid → the newest binding a node removed (kept, like gone)
	// decSeq is the last sequence on gantry.decision.pod.<ns>.<name> by pod
	// key, kept across incarnations: a pod re-created under the same name
	// must expect the old one's decisions.
	decSeq  map[string]uint64
	gone    map[string]bool // pod uid → deleted and forgotten (tombstone)
	byOwner map[string]map[string]bool

	// Dirty names what changed since the last ClearDirty, for writers of
	// read models ("workload/<key>", "pod/<key>", "node/<name>"), with the
	// newest sequence of each stream that changed it.
	Dirty map[string]Seqs
}

// NewCluster returns an empty fold.
func NewCluster() *Cluster {
	return &Cluster{Applied: map[string]uint64{}, Workloads: map[string]*Workload{},
		Pods: map[string]*Pod{}, Nodes: map[string]*Node{}, statuses: map[string]*events.PodStatusObserved{}, statSeq: map[string]uint64{}, decSeq: map[string]uint64{},
		removed: map[string]removal{}, gone: map[string]bool{}, byOwner: map[string]map[string]bool{},
		Dirty: map[string]Seqs{}}
}

// Seqs is the position in each stream a read-model record reflects.
type Seqs map[string]uint64

// Workload is an accepted object (Deployment or bare Pod) and its history.
type Workload struct {
	Kind        string          `json:"kind"` // deployment, pod
	Namespace   string          `json:"namespace"`
	Name        string          `json:"name"`
	UID         string          `json:"uid"`
	Generation  int64           `json:"generation"`
	Object      manifest.Object `json:"object"`
	Deleted     bool            `json:"deleted,omitempty"`
	CreatedAt   time.Time       `json:"createdAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
	PodsPlanned int64           `json:"podsPlanned"` // pods ever planned for this uid
	// CauseID, CorrelationID and Actor come from the newest verdict, so the
	// decisions taken for the workload trace back to its intent.
	CauseID       string         `json:"causeID"`
	CorrelationID string         `json:"correlationID"`
	Actor         string         `json:"actor,omitempty"`
	Status        WorkloadStatus `json:"status"`
	Seqs          Seqs           `json:"seqs"`
}

// WorkloadStatus is a Deployment's status as Kubernetes reports it.
type WorkloadStatus struct {
	ObservedGeneration int64 `json:"observedGeneration"`
	Replicas           int32 `json:"replicas"`
	UpdatedReplicas    int32 `json:"updatedReplicas"`
	ReadyReplicas      int32 `json:"readyReplicas"`
	AvailableReplicas  int32 `json:"availableReplicas"`
}

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
	Seqs   Seqs                      `json:"seqs"`
}

// Key is how pods and workloads are indexed: "<ns>/<name>" (pods) or
// "<kind>/<ns>/<name>" (workloads).
func Key(ns, name string) string { return ns + "/" + name }

// WorkloadKey indexes workloads.
func WorkloadKey(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

// Phase is the pod's phase as a user sees it.
func (p *Pod) Phase() string {
	if p.Status != nil && p.Status.Phase != "" {
		return p.Status.Phase
	}
	return events.PhasePending
}

// Ready reports every container running and ready.
func (p *Pod) Ready() bool {
	if p.Status == nil || p.Status.Phase != events.PhaseRunning || len(p.Status.Containers) == 0 {
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

// NodeLostAfter is how long a node may go without a heartbeat before it is
// not ready.
const NodeLostAfter = 40 * time.Second

// Node is a node as its heartbeats describe it.
type Node struct {
	Info events.NodeInfo `json:"info"`
	// Unschedulable: cordoned (gantry node cordon); no new pods land here.
	Unschedulable bool `json:"unschedulable,omitempty"`
	// RegisteredAt is when the node was created (its first registration),
	// kept across restarts: it is the node's AGE.
	RegisteredAt  time.Time `json:"registeredAt"`
	LastHeartbeat time.Time `json:"lastHeartbeat"`
	Seqs          Seqs      `json:"seqs"`
}

// created notes when the node was created: the creation time its report
// carries, or, from agents older than that field, the report's time. The
// earliest wins, whatever order the streams interleave in, so a node
// re-registering after a restart of its agent or of the control plane keeps
// its creation time (and its AGE).
func (n *Node) created(info events.NodeInfo, at time.Time) {
	if info.CreatedAt != nil {
		at = *info.CreatedAt
	}
	if n.RegisteredAt.IsZero() || at.Before(n.RegisteredAt) {
		n.RegisteredAt = at.UTC()
	}
}

// Ready reports a node heard from recently.
func (n *Node) Ready(now time.Time) bool { return now.Sub(n.LastHeartbeat) < NodeLostAfter }

// Apply folds one record. Records at or below the applied sequence of their
// stream are ignored, so replay is idempotent.
func (c *Cluster) Apply(r events.Record) {
	if r.Seq <= c.Applied[r.Stream] {
		return
	}
	c.Applied[r.Stream] = r.Seq
	if strings.HasPrefix(r.Subject, "gantry.node.") {
		return // a copy for a node agent; the original is on the pod's subject
	}
	at := r.Envelope.Time
	if ns, name, ok := events.PodOfDecisionSubject(r.Subject); ok {
		defer c.fence(ns, name, r.Seq)
	}
	switch e := r.Event.(type) {
	case *events.AdmissionAccepted:
		c.applyAccepted(r, e)
	case *events.PodPlanned:
		c.applyPlanned(r, e)
	case *events.PodBound:
		c.applyBound(r, e)
	case *events.PodUnschedulable:
		if p := c.Pods[Key(e.Namespace, e.Name)]; p != nil && p.UID == e.UID {
			p.Unschedulable = e.Message
			p.UnschedulableCount++
			c.touchPod(p, r)
		}
	case *events.PodDeleted:
		c.applyDeleted(r, e)
	case *events.PodStatusObserved:
		c.applyStatus(r, e)
	case *events.PodRemoved:
		c.applyRemoved(r, e)
	case *events.NodeRegistered:
		n := c.node(e.Node.Name)
		n.Info = e.Node
		n.created(e.Node, at)
		c.touchNode(n, r)
	case *events.NodeCordoned:
		n := c.node(e.Node)
		n.Unschedulable = e.Unschedulable
		c.touchNode(n, r)
	case *events.NodeHeartbeat:
		n := c.node(e.Node.Name)
		n.Info = e.Node
		n.created(e.Node, at)
		if at.After(n.LastHeartbeat) {
			n.LastHeartbeat = at
		}
		c.touchNode(n, r)
	}
}

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

func (c *Cluster) applyAccepted(r events.Record, e *events.AdmissionAccepted) {
	key := WorkloadKey(e.Kind, e.Namespace, e.Name)
	w := c.Workloads[key]
	if e.Op == events.OpDelete {
		if w != nil && w.UID == e.UID {
			w.Deleted = true
			w.cause(r.Envelope)
			w.UpdatedAt = r.Envelope.Time
			c.touchWorkload(w, r)
		}
		return
	}
	var obj manifest.Object
	if err := json.Unmarshal(e.Object, &obj); err != nil {
		return // admission only accepts objects that decode; nothing to fold
	}
	if w == nil || w.UID != e.UID {
		w = &Workload{Kind: e.Kind, Namespace: e.Namespace, Name: e.Name, UID: e.UID, CreatedAt: r.Envelope.Time, Seqs: Seqs{}}
		c.Workloads[key] = w
	}
	w.Generation = e.Generation
	w.Object = obj
	w.Deleted = false
	w.UpdatedAt = r.Envelope.Time
	w.cause(r.Envelope)
	c.touchWorkload(w, r)
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
	}
	if e.Epoch < p.Epoch {
		return
	}
	at := r.Envelope.Time
	p.Node, p.Epoch, p.BoundAt = e.Node, e.Epoch, &at
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
	if p := c.Pods[key]; p != nil && p.UID == e.UID {
		p.Status = e
		c.touchPod(p, r)
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
		st.PodIP = rm.last.PodIP
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
	// The pod's newest status stays until its node reports the removal: a
	// binding that raced the deletion can still bring the pod back.
	c.gone[p.UID] = true
	if p.Owner != nil {
		delete(c.byOwner[p.Owner.UID], key)
		if w := c.ownerWorkload(p.Owner, p.Namespace); w != nil {
			c.mark("workload/"+WorkloadKey(w.Kind, w.Namespace, w.Name), r) // its status counts pods
		}
	}
	c.mark("pod/"+key, r)
}

func (w *Workload) cause(e events.Envelope) {
	w.CauseID, w.CorrelationID, w.Actor = e.ID, e.CorrelationID, e.Actor
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

// Gone reports a pod uid that was deleted and is forgotten.
func (c *Cluster) Gone(uid string) bool { return c.gone[uid] }

func (c *Cluster) ownerWorkload(o *events.OwnerRef, ns string) *Workload {
	w := c.Workloads[WorkloadKey(o.Kind, ns, o.Name)]
	if w == nil || w.UID != o.UID {
		return nil
	}
	return w
}

// OwnedCount is how many pods a workload incarnation has (deleting ones
// included), without listing them.
func (c *Cluster) OwnedCount(uid string) int { return len(c.byOwner[uid]) }

// OwnedPods returns the pods of a workload incarnation, in planning order.
func (c *Cluster) OwnedPods(uid string) []*Pod {
	set := c.byOwner[uid]
	out := make([]*Pod, 0, len(set))
	for key := range set {
		if p := c.Pods[key]; p != nil {
			out = append(out, p)
		}
	}
	sortPods(out)
	return out
}

func (c *Cluster) node(name string) *Node {
	n := c.Nodes[name]
	if n == nil {
		// A cordon can come before the node's first heartbeat.
		n = &Node{Info: events.NodeInfo{Name: name}, Seqs: Seqs{}}
		c.Nodes[name] = n
	}
	return n
}

func (c *Cluster) touchPod(p *Pod, r events.Record) {
	p.Seqs[r.Stream] = r.Seq
	key := Key(p.Namespace, p.Name)
	c.mark("pod/"+key, r)
	if p.Owner != nil {
		if w := c.ownerWorkload(p.Owner, p.Namespace); w != nil {
			c.mark("workload/"+WorkloadKey(w.Kind, w.Namespace, w.Name), r) // its status counts pods
		}
	}
}

func (c *Cluster) touchWorkload(w *Workload, r events.Record) {
	w.Seqs[r.Stream] = r.Seq
	c.mark("workload/"+WorkloadKey(w.Kind, w.Namespace, w.Name), r)
}

func (c *Cluster) touchNode(n *Node, r events.Record) {
	n.Seqs[r.Stream] = r.Seq
	c.mark("node/"+n.Info.Name, r)
}

// mark records that r changed the read-model record key.
func (c *Cluster) mark(key string, r events.Record) {
	d := c.Dirty[key]
	if d == nil {
		d = Seqs{}
		c.Dirty[key] = d
	}
	if r.Seq > d[r.Stream] {
		d[r.Stream] = r.Seq
	}
}

// ClearDirty forgets what changed.
func (c *Cluster) ClearDirty() { clear(c.Dirty) }

// Status computes a Deployment's status from its pods.
func (c *Cluster) Status(w *Workload) WorkloadStatus {
	st := WorkloadStatus{ObservedGeneration: w.Generation}
	var hash string
	if w.Object.Deployment() != nil {
		hash = manifest.TemplateHash(w.Object.Deployment().Template)
	}
	for _, p := range c.OwnedPods(w.UID) {
		if p.Deleting || p.Terminal() {
			continue
		}
		st.Replicas++
		if p.TemplateHash == hash {
			st.UpdatedReplicas++
		}
		if p.Ready() {
			st.ReadyReplicas++
			st.AvailableReplicas++
		}
	}
	return st
}
